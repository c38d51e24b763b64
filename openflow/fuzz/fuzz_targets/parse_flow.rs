//! Fuzz the ovs-ofctl flow parser: any string must parse or fail with a
//! typed error, never panic; whatever parses must print, and the printed
//! canonical form must parse again to the same flow (after normalization
//! for each wire version, printing must not panic either).
#![no_main]
use ferrovs_openflow::text::{normalize, parse_flow, WireVersion};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(flow) = parse_flow(s) {
        let text = flow.format();
        let again = parse_flow(&text).unwrap_or_else(|e| panic!("reparse of {text:?} failed: {e}"));
        assert_eq!(again.format(), text, "print is not a fixed point for {s:?}");
        for v in [WireVersion::Of10, WireVersion::Of15] {
            let mut f = flow.clone();
            normalize(&mut f, v);
            let _ = f.format();
        }
    }
});
