//! Logging: `tracing` to stderr or a log file, with per-module levels that
//! `vlog/set` changes at run time and `vlog/list` shows, named as OVS's
//! vlog modules are (`bridge`, `connmgr`, ...) and mapped onto the Rust
//! module paths that emit them.
//!
//! The filter is an `EnvFilter` behind a reload handle; each change
//! rebuilds it from the module table (a handful of entries).
//!
//! The log file sits behind a lock as an `Option<File>`, so that
//! `vlog/reopen` can open its path again after logrotate renamed it and
//! `vlog/close` can let it go (lines are then dropped until a reopen).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::Context;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Registry};

/// vlog module name -> Rust targets it covers.
const MODULES: &[(&str, &[&str])] = &[
    (
        "bridge",
        &[
            "ferrovs_vswitchd::bridge",
            "ferrovs_vswitchd::switch",
            "ferrovs_vswitchd::iface",
        ],
    ),
    (
        "connmgr",
        &["ferrovs_vswitchd::target", "ferrovs_vswitchd::ofconn"],
    ),
    ("dpif_netdev", &["ferrovs_datapath"]),
    ("ofproto", &["ferrovs_ofproto"]),
    ("ovsdb_idl", &["ovsdb"]),
    (
        "reconfigure",
        &["ferrovs_vswitchd::reconcile", "ferrovs_vswitchd::status"],
    ),
    ("unixctl", &["ferrovs_vswitchd::unixctl"]),
    ("vswitchd", &["ferrovs_vswitchd"]),
];

/// OVS level names, most to least severe.
const LEVELS: &[(&str, &str)] = &[
    ("off", "off"),
    ("emer", "error"),
    ("err", "error"),
    ("warn", "warn"),
    ("info", "info"),
    ("dbg", "debug"),
];

pub struct Vlog {
    handle: reload::Handle<EnvFilter, Registry>,
    /// Module -> OVS level name.
    levels: Mutex<BTreeMap<&'static str, &'static str>>,
    /// "console" or "file": where logs go.
    pub destination: &'static str,
    file: Option<LogFile>,
}

/// The log file's path and, while open, the file itself.
#[derive(Clone)]
struct LogFile {
    path: PathBuf,
    file: Arc<Mutex<Option<File>>>,
}

impl LogFile {
    fn open(path: &Path) -> std::io::Result<File> {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
    }
    fn lock(&self) -> MutexGuard<'_, Option<File>> {
        self.file.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One log line's writer: the file if open, else nowhere.
struct LogWriter<'a>(MutexGuard<'a, Option<File>>);

impl Write for LogWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.0.as_mut() {
            Some(f) => f.write(buf),
            None => Ok(buf.len()),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self.0.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl<'a> MakeWriter<'a> for LogFile {
    type Writer = LogWriter<'a>;
    fn make_writer(&'a self) -> LogWriter<'a> {
        LogWriter(self.lock())
    }
}

impl Vlog {
    /// Starts logging to `file` (appending) or to stderr.
    pub fn init(file: Option<&Path>) -> anyhow::Result<Vlog> {
        let levels: BTreeMap<&'static str, &'static str> =
            MODULES.iter().map(|(m, _)| (*m, "info")).collect();
        let (filter, handle) = reload::Layer::new(build_filter(&levels));
        let fmt = tracing_subscriber::fmt::layer().with_ansi(false);
        let mut log_file = None;
        let destination = match file {
            Some(f) => {
                let fh = LogFile::open(f)
                    .with_context(|| format!("opening log file {}", f.display()))?;
                let lf = LogFile {
                    path: f.to_path_buf(),
                    file: Arc::new(Mutex::new(Some(fh))),
                };
                log_file = Some(lf.clone());
                tracing_subscriber::registry()
                    .with(filter)
                    .with(fmt.with_writer(lf))
                    .init();
                "file"
            }
            None => {
                tracing_subscriber::registry()
                    .with(filter)
                    .with(fmt.with_writer(std::io::stderr))
                    .init();
                "console"
            }
        };
        Ok(Vlog {
            handle,
            levels: Mutex::new(levels),
            destination,
            file: log_file,
        })
    }

    /// `vlog/reopen`: opens the log file's path again (after logrotate
    /// moved the file away, the next lines go to a new file there).
    pub fn reopen(&self) -> Result<(), String> {
        let lf = self
            .file
            .as_ref()
            .ok_or_else(|| "Logging to file not configured".to_string())?;
        let fh = LogFile::open(&lf.path).map_err(|e| sys_error_text(&e))?;
        *lf.lock() = Some(fh);
        Ok(())
    }

    /// `vlog/close`: closes the log file, if open; lines logged until the
    /// next `vlog/reopen` are dropped.
    pub fn close(&self) {
        if let Some(lf) = &self.file {
            *lf.lock() = None;
        }
    }

    /// `vlog/list`, in OVS's layout (one column per destination).
    pub fn list(&self) -> String {
        let levels = self.levels.lock().unwrap_or_else(|e| e.into_inner());
        let mut s = String::from(
            "                 console    syslog    file\n                 -------    ------    ------\n",
        );
        for (m, l) in levels.iter() {
            let l = l.to_uppercase();
            let (console, file) = if self.destination == "file" {
                ("OFF".to_string(), l)
            } else {
                (l, "OFF".to_string())
            };
            s.push_str(&format!(
                "{m:<16}  {console:>4}       {:>4}       {file:>4}\n",
                "OFF"
            ));
        }
        s
    }

    /// `vlog/set SPEC...`, each `module[:destination][:level]` (module may
    /// be `ANY`; a destination, if given, must be console, syslog, file or
    /// ANY: there is one log here and it follows the level).
    pub fn set(&self, specs: &[String]) -> Result<(), String> {
        let mut levels = self.levels.lock().unwrap_or_else(|e| e.into_inner());
        let mut new = levels.clone();
        for spec in specs {
            let mut module: Option<&str> = None;
            let mut level: Option<&'static str> = None;
            for word in spec.split([':', ' ']).filter(|w| !w.is_empty()) {
                let w = word.to_ascii_lowercase();
                if let Some((l, _)) = LEVELS.iter().find(|(l, _)| *l == w) {
                    level = Some(l);
                } else if ["console", "syslog", "file", "any"].contains(&w.as_str())
                    && module.is_some()
                {
                } else if w == "any" {
                    module = Some("ANY");
                } else if let Some((m, _)) = MODULES.iter().find(|(m, _)| *m == w) {
                    module = Some(m);
                } else {
                    return Err(format!("no destination, level, or module \"{word}\""));
                }
            }
            let level = level.unwrap_or("dbg");
            match module.unwrap_or("ANY") {
                "ANY" => new.values_mut().for_each(|l| *l = level),
                m => {
                    if let Some(e) = new.iter_mut().find(|(k, _)| **k == m) {
                        *e.1 = level;
                    }
                }
            }
        }
        self.handle
            .reload(build_filter(&new))
            .map_err(|e| e.to_string())?;
        *levels = new;
        Ok(())
    }
}

fn build_filter(levels: &BTreeMap<&'static str, &'static str>) -> EnvFilter {
    let mut f = EnvFilter::new("warn");
    // More specific targets last so they win over the crate-wide one.
    for (m, targets) in MODULES.iter().rev() {
        let ovs = levels.get(m).copied().unwrap_or("info");
        let lvl = LEVELS
            .iter()
            .find(|(l, _)| *l == ovs)
            .map(|(_, t)| *t)
            .unwrap_or("info");
        for t in *targets {
            if let Ok(d) = format!("{t}={lvl}").parse() {
                f = f.add_directive(d);
            }
        }
    }
    f
}

/// An I/O error as `strerror` words it ("Permission denied"), without
/// Rust's " (os error 13)".
fn sys_error_text(e: &std::io::Error) -> String {
    let t = e.to_string();
    match t.find(" (os error") {
        Some(i) => t[..i].to_string(),
        None => t,
    }
}
