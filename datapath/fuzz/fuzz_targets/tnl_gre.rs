#![no_main]
// GRE header view and Repr with every flag combination (the first two
// bytes of the input are the flags), checksum verification, template
// parsing and printing, and tnl_pop of GRE frames over IPv4 and IPv6.

use ferrovs_datapath::tunnel::TnlKind;
use ferrovs_datapath::wire::gre::{fill_gre_checksum, GreHeader, GreRepr};
use libfuzzer_sys::fuzz_target;

#[path = "tnl_common.rs"]
mod tnl_common;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = GreHeader::new_checked(data) {
        let _ = (h.checksum(), h.key(), h.seq(), h.checksum_ok(), h.payload().len());
        if let Ok(r) = GreRepr::parse(&h) {
            let mut b = data.to_vec();
            r.emit(&mut b).unwrap();
            fill_gre_checksum(&mut b);
            let h2 = GreHeader::new_checked(&b).unwrap();
            assert!(h2.checksum_ok());
            assert_eq!(GreRepr::parse(&h2).unwrap(), r);
            assert_eq!(&b[..4], &data[..4]);
        }
    }
    let (sel, rest) = data.split_first().unwrap_or((&0, &[]));
    tnl_common::template(rest, if sel & 2 != 0 { 109 } else { 3 });
    tnl_common::pop_checked(&tnl_common::wrap(rest, sel & 1 != 0, 47, None), TnlKind::Gre);
});
