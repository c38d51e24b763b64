//! Inputs the fuzzers once tripped over (`data/fuzz/`): each is fed to the
//! fuzz entry point for every version and must neither panic nor hang.

#[test]
fn fuzz_regressions() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/fuzz");
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let data = std::fs::read(e.unwrap().path()).unwrap();
        for v in [1u8, 4, 5, 6] {
            ferrovs_openflow::message::fuzz_one(v, &data);
        }
        n += 1;
    }
    assert!(n >= 2);
}
