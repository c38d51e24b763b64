//! Every OpenFlow message in `shared/captures/ofctl-tcp.pcap` (real
//! ovs-ofctl <-> OVS 3.1 sessions, extracted once into `data/pcap/*.hex`)
//! decodes, re-encodes to the same bytes, and decodes again to the same Repr.

use ferrovs_openflow::message::{Header, Message};

fn vectors() -> Vec<(String, Vec<u8>)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/pcap");
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("pcap vector dir")
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for p in files {
        if p.extension().and_then(|e| e.to_str()) != Some("hex") {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        for (i, line) in text.lines().enumerate() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let (dir, hex) = line.split_once(' ').unwrap();
            let name = format!(
                "{}:{} ({})",
                p.file_name().unwrap().to_string_lossy(),
                i + 1,
                dir
            );
            out.push((name, hex::decode(hex.trim()).unwrap()));
        }
    }
    out
}

#[test]
fn every_captured_message_round_trips() {
    let v = vectors();
    assert!(
        v.len() >= 40,
        "expected the capture's ~43 messages, got {}",
        v.len()
    );
    let mut kinds = std::collections::BTreeSet::new();
    for (name, bytes) in &v {
        let (h, m) =
            Message::decode(bytes).unwrap_or_else(|e| panic!("{name}: decode failed: {e}"));
        assert_eq!(h.length as usize, bytes.len(), "{name}");
        let version = ferrovs_openflow::Version::from_wire(h.version).unwrap();
        let again = m.encode(version, h.xid);
        assert_eq!(
            hex::encode(&again),
            hex::encode(bytes),
            "{name}: re-encoding differs\n{m:?}"
        );
        let (h2, m2) = Message::decode(&again).unwrap();
        assert_eq!(h, h2, "{name}");
        assert_eq!(m, m2, "{name}");
        kinds.insert(format!("v{} {:?}", h.version, std::mem::discriminant(&m)));
    }
    assert!(kinds.len() >= 8, "{kinds:?}");
}

#[test]
fn captured_facts() {
    use ferrovs_openflow::message::multipart::{MpReply, MpRequest};
    use ferrovs_openflow::message::NxMessage;
    let v = vectors();
    let msgs: Vec<(Header, Message)> = v.iter().map(|(_, b)| Message::decode(b).unwrap()).collect();
    // ovs-ofctl's OF1.0 session asks for NXM (NXT_SET_FLOW_FORMAT, NXFF_NXM=2) and dumps with NXST_FLOW.
    assert!(msgs
        .iter()
        .any(|(h, m)| h.version == 1 && matches!(m, Message::Nx(NxMessage::SetFlowFormat(2)))));
    assert!(msgs.iter().any(|(h, m)| h.version == 1
        && matches!(m, Message::MultipartRequest(r) if matches!(r.body, MpRequest::NxFlow(_)))));
    // The 1.3 add-flow: priority=5,ip,nw_dst=198.18.9.9,actions=drop.
    let fm = msgs
        .iter()
        .find_map(|(h, m)| match m {
            Message::FlowMod(f) if h.version == 4 => Some(f),
            _ => None,
        })
        .expect("OF1.3 flow-mod in capture");
    assert_eq!(fm.priority, 5);
    assert_eq!(
        fm.r#match.exact_u128(ferrovs_openflow::Field::EthType),
        Some(0x0800)
    );
    assert_eq!(
        fm.r#match.exact_u128(ferrovs_openflow::Field::IpDst),
        Some(0xc612_0909)
    );
    assert!(
        fm.instructions.is_empty(),
        "actions=drop has no instruction"
    );
    // Table features replies from OVS (multipart 12) with 1.3 hello bitmaps.
    let n_tf = msgs
        .iter()
        .filter(|(_, m)| matches!(m, Message::MultipartReply(r) if matches!(r.body, MpReply::TableFeatures(_))))
        .count();
    assert!(n_tf >= 10, "{n_tf}");
    let hello = msgs
        .iter()
        .find_map(|(h, m)| match m {
            Message::Hello(x) if h.version == 6 => Some(x),
            _ => None,
        })
        .unwrap();
    assert!(hello.allows(6, ferrovs_openflow::Version::Of13));
}
