//! Arbitrary bytes as an NXT_RESUME continuation and as ferrovs's frozen
//! state property: decoding never panics, and a state that decodes
//! encodes back to a state that decodes to the same thing.
#![no_main]
use ferrovs_ofproto::continuation::{decode, decode_state, encode, encode_state};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let id = [7u8; 16];
    let _ = decode(data, &id);
    if let Ok(st) = decode_state(data) {
        let again = decode_state(&encode_state(&st)).expect("re-encoded state decodes");
        assert_eq!(again, st);
        assert_eq!(decode(&encode(&st, &id), &id).expect("sealed round trip"), st);
    }
});
