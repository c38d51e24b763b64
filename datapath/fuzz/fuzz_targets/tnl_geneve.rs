#![no_main]
// Geneve header view, option walk and Repr (options of any length,
// truncated ones included), template parsing and printing, and tnl_pop of
// Geneve frames over IPv4 and IPv6.

use ferrovs_datapath::tunnel::TnlKind;
use ferrovs_datapath::wire::geneve::{geneve_options, GeneveHeader, GeneveRepr};
use libfuzzer_sys::fuzz_target;

#[path = "tnl_common.rs"]
mod tnl_common;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = GeneveHeader::new_checked(data) {
        let n: usize = geneve_options(h.options()).map(|o| 4 + o.data.len()).sum();
        assert_eq!(n, h.options_len(), "checked options walk to their end");
        if let Ok(r) = GeneveRepr::parse(&h) {
            let mut b = vec![0u8; r.header_len()];
            r.emit(&mut b).unwrap();
            // reserved bits (low 6 of byte 1) are ignored on receive, zero on send
            let mut want = data[..h.header_len()].to_vec();
            want[1] &= 0xc0;
            assert_eq!(b, want);
        }
    }
    let (sel, rest) = data.split_first().unwrap_or((&0, &[]));
    tnl_common::template(rest, 5);
    tnl_common::pop_checked(&tnl_common::wrap(rest, sel & 1 != 0, 17, Some(6081)), TnlKind::Geneve);
});
