//! What one client may make the server hold or do: the bounds that keep a
//! slow or hostile client from growing the server's memory without limit
//! or stalling the other sessions. One plain value, copied into the event
//! loop and the engine at start; every field has a command-line option of
//! `ferrovs-ovsdb-server` (`--max-...=N`).
//!
//! How each bound acts:
//! - input: a message over `message_bytes` or `message_elements` (echo
//!   excepted: it builds no tree) is answered with a "resources exhausted"
//!   error and the session closed; the bytes held by all sessions' partial
//!   messages are capped by `input_total`, beyond which the session with
//!   the largest partial message is closed the same way;
//! - output: a session's messages are handled only while its queued output
//!   is under `backlog_pause` (the rest waits in its framer, as OVS waits
//!   for an empty send queue); monitor updates for a session with a backlog
//!   are merged per row and serialized once it drains; a session whose
//!   queued output still passes `session_backlog` is closed with a log line;
//! - waits: a session may have `waits_per_session` "wait" transactions
//!   pending; more are answered with a "resources exhausted" error.

/// The bounds; `Limits::default()` holds the server's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest message, in bytes.
    pub message_bytes: usize,
    /// Most values in one message (see `jsonrpc::count_elements`).
    pub message_elements: usize,
    /// Bytes of incomplete messages held across all sessions.
    pub input_total: usize,
    /// Queued output above which a session's input waits.
    pub backlog_pause: usize,
    /// Queued output above which a session is closed.
    pub session_backlog: usize,
    /// Pending "wait" transactions per session.
    pub waits_per_session: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            message_bytes: crate::jsonrpc::MAX_MESSAGE,
            // Tens of MB of OVN transaction (mostly UUID strings) stay far
            // below this; a 64 MiB array of small integers does not.
            message_elements: 8_000_000,
            input_total: 256 << 20,
            backlog_pause: 64 << 10,
            session_backlog: 512 << 20,
            waits_per_session: 100,
        }
    }
}

impl Limits {
    /// Sets the bound named by command-line option `opt` (without its
    /// leading dashes) to `v`. Returns false for an unknown name.
    pub fn set(&mut self, opt: &str, v: usize) -> bool {
        let f = match opt {
            "max-message-bytes" => &mut self.message_bytes,
            "max-message-elements" => &mut self.message_elements,
            "max-input-total" => &mut self.input_total,
            "backlog-pause" => &mut self.backlog_pause,
            "max-session-backlog" => &mut self.session_backlog,
            "max-waits-per-session" => &mut self.waits_per_session,
            _ => return false,
        };
        *f = v;
        true
    }

    /// The option names `set` takes.
    pub const OPTIONS: &'static [&'static str] = &[
        "max-message-bytes",
        "max-message-elements",
        "max-input-total",
        "backlog-pause",
        "max-session-backlog",
        "max-waits-per-session",
    ];
}
