//! Text -> wire -> text round trip through this crate's encoders and
//! decoders: every corpus flow is parsed, normalized for a version,
//! converted to the wire model, encoded (NXM match + OpenFlow 1.0/Nicira
//! actions for 1.0; OXM match + instructions for 1.3 and 1.5), decoded,
//! converted back and printed; the text must be unchanged. Flows whose
//! text has no wire form in the wire model are counted and listed, and
//! their number is bounded so the test notices a regression.

use ferrovs_openflow::action::{decode_actions, encode_actions};
use ferrovs_openflow::text::wire::*;
use ferrovs_openflow::text::{normalize, parse_flow, usable_in, WireVersion};
use ferrovs_openflow::{Instruction, Match, Version};

fn corpus() -> Vec<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/flows.txt");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

/// Encodes and decodes; returns the re-printed flow.
fn round_trip(flow: &str, ver: WireVersion) -> Result<(String, String), String> {
    let mut f = parse_flow(flow).map_err(|e| e.to_string())?;
    if !usable_in(&f, ver) {
        return Err("OVS has no encoding of this flow in this version".into());
    }
    normalize(&mut f, ver);
    let want = f.format();
    let e = |x: ferrovs_openflow::DecodeError| format!("decode: {x:?}");
    let u = |x: Unrepresentable| x.to_string();
    let mut back = f.clone();
    let m = match_to_wire(&f.matches).map_err(u)?;
    let mut buf = Vec::new();
    match ver {
        WireVersion::Of10 => {
            m.encode_tlvs(None, &mut buf);
            back.matches = match_from_wire(&Match::decode_tlvs(&buf).map_err(e)?).map_err(u)?;
            let acts = actions_to_wire(&f.actions).map_err(u)?;
            let mut ab = Vec::new();
            encode_actions(Version::Of10, &acts, &mut ab);
            let dec = decode_actions(Version::Of10, &ab).map_err(e)?;
            back.actions = actions_from_wire(&dec, false).map_err(u)?;
        }
        _ => {
            let v = if ver == WireVersion::Of13 {
                Version::Of13
            } else {
                Version::Of15
            };
            m.encode_tlvs(Some(v), &mut buf);
            back.matches = match_from_wire(&Match::decode_tlvs(&buf).map_err(e)?).map_err(u)?;
            let ins = instructions_to_wire(&f.actions).map_err(u)?;
            let mut ib = Vec::new();
            Instruction::encode_list(v, &ins, &mut ib);
            let dec = Instruction::decode_list(v, &ib).map_err(e)?;
            back.actions = instructions_from_wire(&dec).map_err(u)?;
        }
    }
    Ok((want, back.format()))
}

#[test]
fn corpus_round_trips_through_the_wire_codec() {
    let flows = corpus();
    let mut mismatches = Vec::new();
    let mut skipped = Vec::new();
    let mut ok = 0;
    for ver in [WireVersion::Of10, WireVersion::Of13, WireVersion::Of15] {
        for flow in &flows {
            match round_trip(flow, ver) {
                Ok((want, got)) if want == got => ok += 1,
                Ok((want, got)) => {
                    mismatches.push(format!("[{ver:?}] {flow}\n  text: {want}\n  wire: {got}"))
                }
                Err(e) => skipped.push(format!("[{ver:?}] {flow}: {e}")),
            }
        }
    }
    eprintln!(
        "{ok} round trips identical, {} skipped:\n{}",
        skipped.len(),
        skipped.join("\n")
    );
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    assert!(
        ok >= flows.len() * 3 * 9 / 10,
        "only {ok} of {} round trips",
        flows.len() * 3
    );
}
