//! Standard output for the tool commands (`ofctl`, `appctl`, `vsctl`).
//!
//! `print!` panics when the reader has gone away (`ferrovs ofctl
//! dump-flows br0 | head`). A person piping a dump into `head` or `grep
//! -q` expects the command to stop quietly, as OVS's tools do, so text goes
//! out through `emit`, which ends the process with status 0 on a closed
//! pipe and reports any other write error.
use std::io::{ErrorKind, Write};

/// Writes `text` to standard output; a closed pipe ends the process quietly.
pub fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    let res = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    match res {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => {
            eprintln!("ferrovs: writing to standard output: {e}");
            std::process::exit(1);
        }
    }
}
