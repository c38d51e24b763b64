//! Fuzz `text::ofp_print`: any bytes (one or more messages, malformed or
//! not) print without panicking, as `ovs-ofctl ofp-print` would take them.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ferrovs_openflow::text::ofp_print::print_bytes(data);
});
