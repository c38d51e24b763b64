//! A python os-ken application run as an OpenFlow controller inside a
//! switch's network namespace, listening on that namespace's loopback
//! (`tcp:127.0.0.1:PORT`), so no packet leaves the namespace.
//!
//! The scripts live in `tests/python/` and print one line per observation;
//! [`OskenApp`] hands those lines to the test with timeouts. The python
//! process is killed on drop (through [`Child`]), and whatever it wrote to
//! stderr is kept in a file so a failing test can show it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use crate::{python, spawn_lines, tool, Child, Netns};

pub struct OskenApp {
    _child: Child,
    lines: Receiver<String>,
    stderr: PathBuf,
    name: String,
}

impl OskenApp {
    /// Starts `tests/python/<script>` with `args` inside `ns`. `tag` names
    /// the switch in messages (`ferrovs`, `ovs`); `dir` holds its stderr.
    pub fn start(
        ns: &Netns,
        dir: &Path,
        tag: &str,
        script: &str,
        args: &[&str],
    ) -> anyhow::Result<OskenApp> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("python")
            .join(script);
        let stderr = dir.join(format!("{script}.{tag}.stderr"));
        let (child, lines) = spawn_lines(
            Command::new(tool("ip"))
                .args(["netns", "exec", ns.name()])
                .arg(python())
                .arg("-u")
                .arg("-W")
                .arg("ignore")
                .arg(&path)
                .args(args)
                .stdin(Stdio::null())
                .stderr(std::fs::File::create(&stderr)?),
        )?;
        Ok(OskenApp {
            _child: child,
            lines,
            stderr,
            name: format!("{script} against {tag}"),
        })
    }

    /// What the script wrote on stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// The next line, within `timeout`.
    pub fn next(&self, timeout: Duration) -> anyhow::Result<String> {
        self.lines.recv_timeout(timeout).map_err(|e| {
            anyhow::anyhow!(
                "{}: no line within {timeout:?} ({e}); stderr:\n{}",
                self.name,
                self.stderr()
            )
        })
    }

    /// Every line up to and including one equal to `last`, within
    /// `timeout` in all.
    pub fn until(&self, last: &str, timeout: Duration) -> anyhow::Result<Vec<String>> {
        let deadline = Instant::now() + timeout;
        let mut out = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .next(left)
                .map_err(|e| anyhow::anyhow!("{e}\nwhile waiting for {last:?} after {out:#?}"))?;
            let done = line == last;
            out.push(line);
            if done {
                return Ok(out);
            }
        }
    }

    /// The next line, which must start with `prefix`.
    pub fn expect(&self, prefix: &str, timeout: Duration) -> anyhow::Result<String> {
        let line = self.next(timeout)?;
        anyhow::ensure!(
            line.starts_with(prefix),
            "{}: said {line:?}, expected {prefix:?}; stderr:\n{}",
            self.name,
            self.stderr()
        );
        Ok(line)
    }

    /// Every line that arrives within `span` (for counting what a step
    /// caused).
    pub fn drain(&self, span: Duration) -> Vec<String> {
        let deadline = Instant::now() + span;
        let mut out = Vec::new();
        while let Ok(l) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            out.push(l);
        }
        out
    }
}
