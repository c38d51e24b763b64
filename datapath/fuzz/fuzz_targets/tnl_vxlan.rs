#![no_main]
// VXLAN (with GBP) header view and Repr, template parsing and printing, and
// tnl_pop of VXLAN frames over IPv4 and IPv6 with arbitrary VXLAN headers.

use ferrovs_datapath::tunnel::TnlKind;
use ferrovs_datapath::wire::vxlan::{VxlanHeader, VxlanRepr};
use libfuzzer_sys::fuzz_target;

#[path = "tnl_common.rs"]
mod tnl_common;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = VxlanHeader::new_checked(data) {
        let _ = (h.flags(), h.vni(), h.payload().len());
        if let Ok(r) = VxlanRepr::parse(&h) {
            let mut b = [0u8; 8];
            r.emit(&mut b).unwrap();
            assert_eq!(&b[..], &data[..8]);
        }
    }
    let (sel, rest) = data.split_first().unwrap_or((&0, &[]));
    tnl_common::template(rest, 4);
    tnl_common::pop_checked(&tnl_common::wrap(rest, sel & 1 != 0, 17, Some(4789)), TnlKind::Vxlan);
    tnl_common::pop_checked(rest, TnlKind::Vxlan);
});
