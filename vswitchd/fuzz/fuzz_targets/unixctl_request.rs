//! A unixctl request (one framed JSON text) against a live switch with no
//! bridges: any bytes give a reply or a protocol error, never a panic.
#![no_main]

use std::sync::{Arc, Mutex, OnceLock};

use ferrovs_datapath::{Datapath, DpConfig};
use ferrovs_vswitchd::bridge::Shared;
use ferrovs_vswitchd::switch::Switch;
use ferrovs_vswitchd::unixctl::{handle_request, Ctx};
use ferrovs_vswitchd::upcall::DropUpcalls;
use ferrovs_vswitchd::vlog::Vlog;
use libfuzzer_sys::fuzz_target;

fn ctx() -> &'static Ctx {
    static CTX: OnceLock<Ctx> = OnceLock::new();
    CTX.get_or_init(|| {
        let dp = Arc::new(Datapath::new(
            DpConfig::default(),
            Arc::new(DropUpcalls::default()),
        ));
        let dir = std::env::temp_dir().join("ferrovs-fuzz-unixctl");
        Ctx {
            switch: Arc::new(Mutex::new(Switch::new(Shared::new(dp, &dir)))),
            vlog: Arc::new(Vlog::init(Some(&std::path::PathBuf::from("/dev/null"))).unwrap()),
            exit: Arc::new(tokio::sync::Notify::new()),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(reply) = handle_request(ctx(), data) {
        let v: serde_json::Value = match serde_json::from_slice(&reply) {
            Ok(v) => v,
            Err(e) => panic!("reply is not JSON: {e}"),
        };
        assert!(v.get("id").is_some());
    }
});
