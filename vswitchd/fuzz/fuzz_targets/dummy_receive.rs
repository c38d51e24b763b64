//! `netdev-dummy/receive` arguments (hex frames, datapath flows, `--len`,
//! `--qid`): any input gives frames or an error, never a panic, and a
//! composed frame's IPv4 header checksum verifies.
#![no_main]

use ferrovs_vswitchd::dummy_packet::parse_receive;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let args: Vec<String> = text.split('\n').map(str::to_string).collect();
    if let Ok((qid, frames)) = parse_receive(&args, 2) {
        assert!(qid < 2);
        for f in frames {
            assert!(f.len() >= 14);
            if f[12..14] == [0x08, 0x00] && f.len() >= 34 {
                assert_eq!(ferrovs_datapath::wire::checksum::checksum(&f[14..34]), 0);
            }
        }
    }
});
