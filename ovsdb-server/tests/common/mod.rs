//! The server process the crate's integration tests run against: any
//! ovsdb-server-compatible binary on `DIR/conf.db`, listening on
//! `DIR/db.sock`, killed and reaped when the guard drops (also when a test
//! fails).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Our server binary, as Cargo built it for these tests.
pub const FERROVS: &str = env!("CARGO_BIN_EXE_ferrovs-ovsdb-server");

pub struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `bin` on `dir/conf.db` and waits for its socket, which it
/// returns. A stale socket from an earlier server in `dir` is removed
/// first, so a test can restart the server on the same files.
pub fn start(bin: &str, dir: &Path) -> (Server, PathBuf) {
    let sock = dir.join("db.sock");
    let _ = std::fs::remove_file(&sock);
    let child = Command::new(bin)
        .arg(dir.join("conf.db"))
        .arg(format!("--remote=punix:{}", sock.display()))
        .arg(format!("--unixctl={}", dir.join("ctl").display()))
        .env("FERROVS_LOG", "error")
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {bin}: {e}"));
    let server = Server(child);
    for _ in 0..500 {
        if sock.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(sock.exists(), "{bin} did not create its socket");
    (server, sock)
}
