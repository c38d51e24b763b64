//! `netdev-dummy/receive` arguments (hex frames, datapath flows, `--len`,
//! `--qid`): any input gives frames or an error, never a panic; a frame
//! composed from an untagged IPv4 flow has a valid IPv4 header checksum and
//! total length.
#![no_main]

use ferrovs_vswitchd::dummy_packet::{compose, parse_flow, parse_receive};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let args: Vec<String> = text.split('\n').map(str::to_string).collect();
    if let Ok((qid, frames)) = parse_receive(&args, 2) {
        assert!(qid < 2);
        assert!(frames.iter().all(|f| f.len() >= 14));
    }
    for a in &args {
        let Ok(spec) = parse_flow(a) else { continue };
        let Ok(f) = compose(&spec, None) else { continue };
        if spec.vlans.is_empty() && spec.dl_type == Some(0x0800) {
            assert_eq!(ferrovs_datapath::wire::checksum::checksum(&f[14..34]), 0);
            assert_eq!(u16::from_be_bytes([f[16], f[17]]) as usize, f.len() - 14);
        }
    }
});
