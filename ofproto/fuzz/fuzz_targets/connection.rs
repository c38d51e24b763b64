//! Arbitrary OpenFlow byte streams into a connection of a live switch.
//!
//! The first byte picks the version the connection negotiates (1.0, 1.3,
//! 1.4 or 1.5) and how the rest is cut into reads; the rest is fed as
//! messages whose version byte and length are forced, so that inputs
//! reach the handlers (flow-mods, groups, meters, bundles, stats...).
//! Nothing may panic, and afterwards the tables must be consistent: a
//! flow dump lists exactly the rules the switch counts.
#![no_main]
use ferrovs_ofproto::{ConnKind, Ofproto, OfprotoConfig};
use ferrovs_openflow::message::multipart::{FlowStatsRequest, MpReply, MpRequest};
use ferrovs_openflow::message::{Hello, Message, MultipartRequest};
use ferrovs_openflow::Version;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let v = [Version::Of10, Version::Of13, Version::Of14, Version::Of15][(sel & 3) as usize];
    let mut of = Ofproto::new(OfprotoConfig::new("br0", 1));
    let id = of.connect(ConnKind::Controller, Box::new(|| {}));
    of.receive(id, &Message::Hello(Hello::offering(&[v])).encode(v, 1));
    // Messages: [type, len_hi, len_lo, body...] with the version forced.
    let mut stream = Vec::new();
    let mut r = rest;
    while r.len() >= 3 {
        let ty = r[0];
        let n = (u16::from_be_bytes([r[1], r[2]]) as usize).min(r.len() - 3).min(2000);
        let body = &r[3..3 + n];
        let len = (8 + n) as u16;
        stream.extend_from_slice(&[v.wire(), ty]);
        stream.extend_from_slice(&len.to_be_bytes());
        stream.extend_from_slice(&[0, 0, 0, 2]);
        stream.extend_from_slice(body);
        r = &r[3 + n..];
    }
    let chunk = 1 + (sel >> 2) as usize * 7;
    for c in stream.chunks(chunk) {
        of.receive(id, c);
        of.take_output(id);
    }
    let now = of.now();
    of.run(now + std::time::Duration::from_secs(3600));
    // Consistency: a fresh connection dumps exactly n_rules() flows.
    let id2 = of.connect(ConnKind::Service, Box::new(|| {}));
    of.take_output(id2);
    let w = Version::Of13;
    of.receive(id2, &Message::Hello(Hello::offering(&[w])).encode(w, 1));
    let req = MultipartRequest { flags: 0, body: MpRequest::Flow(FlowStatsRequest::default()) };
    of.receive(id2, &Message::MultipartRequest(req).encode(w, 2));
    let out = of.take_output(id2);
    let mut b = &out[..];
    let mut n = 0;
    while b.len() >= 8 {
        let len = u16::from_be_bytes([b[2], b[3]]) as usize;
        let (_, m) = Message::decode(&b[..len]).expect("switch output decodes");
        if let Message::MultipartReply(rep) = m {
            if let MpReply::Flow(v) = rep.body {
                n += v.len();
            }
        }
        b = &b[len..];
    }
    assert_eq!(n, of.n_rules(), "dump and rule count agree");
});
