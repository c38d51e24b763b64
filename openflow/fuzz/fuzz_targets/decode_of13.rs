//! Fuzz the OpenFlow decoder with OpenFlow 1.3 messages: the version byte and
//! the length field are forced so that inputs reach the body decoders.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ferrovs_openflow::message::fuzz_one(0x04, data);
});
