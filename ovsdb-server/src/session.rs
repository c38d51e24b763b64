//! One JSON-RPC connection as the event loop sees it: a non-blocking
//! socket, the framer of its input, and the bytes of its output not yet
//! accepted by the kernel.
//!
//! Reading: the loop registers sockets edge-triggered, so a socket must be
//! read until the kernel has nothing more. A read that returns less than
//! the buffer has emptied the receive queue at that moment, and any byte
//! that arrives later raises a new edge, so the loop stops there without
//! paying the extra read(2) that would only say EAGAIN. After `MAX_READS`
//! full buffers it stops for fairness and leaves the session marked
//! readable for the next turn. The end of the stream raises no edge of its
//! own once seen, so after EPOLLRDHUP the loop reads until read(2) says 0.
//! A session whose earlier output is still
//! unsent is not read (back-pressure: a client that does not read its
//! replies cannot make the server buffer without bound). Before each
//! message the session's backlog (queued plus unsent bytes) is checked too:
//! past `Limits::backlog_pause` the session stops, the rest of its input
//! stays in the framer (`stalled`), and the loop resumes it once its output
//! drains, before reading its socket again.
//!
//! Writing: the loop calls `write_out` after the log flush; the messages
//! whose gates are open are appended to `wbuf` and sent with one write(2).
//! A partial write keeps the rest and asks for EPOLLOUT; only then is the
//! socket registered for writability, so a client reading its reply does
//! not wake the server.

use crate::error::OvsdbError;
use crate::jsonrpc::{error_reply, Framer, Message};
use crate::limits::Limits;
use crate::lock::SessionId;
use crate::remote::Stream;
use crate::server::{Core, Handled, Out};
use serde_json::Value;
use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

/// Full reads of one session per loop turn before others get their turn.
pub const MAX_READS: usize = 4;

/// What the connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An OVSDB client session.
    Session(SessionId),
    /// A unixctl (ovs-appctl) client.
    Ctl,
}

/// Where the connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Open,
    /// Bad input was answered with an error: close once the output is out.
    Closing,
    /// The peer closed (or reset) its side: close after this turn's write.
    Eof,
    /// A write failed: close now.
    Dead,
}

/// A transaction blocked in a "wait" operation.
pub struct Waiting {
    pub sid: SessionId,
    pub msg: Message,
    pub arrived: Instant,
    /// When to re-run it even without a commit.
    pub deadline: Option<Instant>,
    /// The (database, table) pairs its operations name: it is re-run only
    /// when a commit touches one of them (None: after any commit).
    pub tables: Option<Vec<(usize, usize)>>,
}

/// A unixctl request read from a control connection.
pub struct CtlRequest {
    pub id: Value,
    pub method: String,
    pub args: Vec<String>,
}

pub struct Conn {
    pub stream: Stream,
    pub kind: Kind,
    pub state: State,
    framer: Framer,
    wbuf: Vec<u8>,
    /// Bytes of `wbuf` already written.
    wpos: usize,
    /// Edge seen and not yet read to the end.
    pub readable: bool,
    /// The poller reported the peer's end closed (EPOLLRDHUP) or an error:
    /// read until EOF, since no further edge will come.
    pub hup: bool,
    /// Registered for EPOLLOUT (only while output is pending).
    pub want_write: bool,
    /// The active remote this connection was made for.
    pub active: Option<String>,
    /// The framer may hold complete messages not handled yet (a backlog
    /// paused the session): handle them before reading more.
    pub stalled: bool,
    /// "wait" transactions of this session still pending.
    pub waits: usize,
    limits: Limits,
}

impl Conn {
    pub fn new(stream: Stream, kind: Kind, limits: &Limits) -> Conn {
        Conn {
            stream,
            kind,
            state: State::Open,
            framer: Framer::with_limit(limits.message_bytes),
            wbuf: Vec::new(),
            wpos: 0,
            readable: false,
            hup: false,
            want_write: false,
            active: None,
            stalled: false,
            waits: 0,
            limits: *limits,
        }
    }

    /// Bytes held in the framer (partial or unhandled messages).
    pub fn input_held(&self) -> usize {
        self.framer.pending()
    }

    /// Bytes written to the socket buffer but not accepted by the kernel.
    pub fn unsent(&self) -> usize {
        self.wbuf.len() - self.wpos
    }

    /// Output accepted from the engine but not yet by the kernel.
    pub fn has_unsent(&self) -> bool {
        self.wpos < self.wbuf.len()
    }

    /// Queues raw bytes (unixctl replies, which have no gate).
    pub fn queue(&mut self, bytes: &[u8]) {
        self.wbuf.extend_from_slice(bytes);
    }

    /// Whether reading may proceed now.
    pub fn can_read(&self) -> bool {
        (self.readable || self.stalled) && self.state == State::Open && !self.has_unsent()
    }

    /// Hands the complete messages in the framer to `on_text`, which says
    /// whether the next one may follow; None once the framer has none.
    fn handle_framed(
        &mut self,
        on_text: &mut impl FnMut(Vec<u8>) -> Result<bool, Value>,
    ) -> Option<Input> {
        loop {
            match self.framer.next_message() {
                Ok(Some(text)) => match on_text(text) {
                    Ok(true) => {}
                    Ok(false) => {
                        self.stalled = true;
                        return Some(Input::Paused);
                    }
                    Err(e) => return Some(Input::Bad(e)),
                },
                Ok(None) => {
                    self.stalled = false;
                    return None;
                }
                Err(e) => return Some(Input::Bad(malformed_answer(e))),
            }
        }
    }

    /// Reads what the socket holds (up to `MAX_READS` full buffers) and
    /// hands each complete message to `on_text`, which says whether the
    /// next may follow (see the module comment). Messages left by an
    /// earlier pause go first; nothing is read while `paused`.
    fn read_input(
        &mut self,
        buf: &mut [u8],
        paused: bool,
        mut on_text: impl FnMut(Vec<u8>) -> Result<bool, Value>,
    ) -> Input {
        if paused {
            self.stalled = true;
            return Input::Paused;
        }
        if self.stalled {
            if let Some(r) = self.handle_framed(&mut on_text) {
                return r;
            }
        }
        for _ in 0..MAX_READS {
            let n = match self.stream.read(buf) {
                Ok(0) => {
                    self.readable = false;
                    self.state = State::Eof;
                    return Input::Drained;
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.readable = false;
                    return Input::Drained;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.readable = false;
                    self.state = State::Eof;
                    return Input::Drained;
                }
            };
            self.framer.push(&buf[..n]);
            if let Some(r) = self.handle_framed(&mut on_text) {
                return r;
            }
            if n < buf.len() && !self.hup {
                // Short read: the receive queue is empty (see the module
                // comment); a later arrival raises a new edge.
                self.readable = false;
                return Input::Drained;
            }
        }
        Input::More
    }

    /// Reads a session's input and handles its messages in `core`, while
    /// its backlog stays under the pause threshold; transactions that must
    /// wait are appended to `waits` (up to the per-session bound; more get
    /// an error). Bad input gets an error reply (queued behind the replies
    /// before it) and closes the session. Returns whether input may remain.
    pub fn read_session(
        &mut self,
        core: &mut Core,
        buf: &mut [u8],
        waits: &mut Vec<Waiting>,
    ) -> bool {
        let Kind::Session(sid) = self.kind else {
            return false;
        };
        let pause = self.limits.backlog_pause;
        let max_waits = self.limits.waits_per_session;
        let max_elements = self.limits.message_elements;
        let mut n_waits = self.waits;
        // `backlog` counts the socket's unsent bytes too (`set_unsent`).
        let paused = core.backlog(sid) > pause;
        let r = self.read_input(buf, paused, |text| {
            tracing::trace!("session {sid} <- {}", String::from_utf8_lossy(&text));
            let msg = Message::parse_bounded(&text, max_elements).map_err(malformed_answer)?;
            drop(text);
            if msg.unexpected_from_client() {
                tracing::warn!("session {sid}: received an unexpected reply; closing");
                return Err(Value::Null);
            }
            if let Handled::Retry { remaining_ms } = core.handle(sid, &msg, 0) {
                if n_waits >= max_waits {
                    let e = OvsdbError::new(
                        "resources exhausted",
                        format!(
                            "more than {max_waits} \"wait\" transactions pending in this session"
                        ),
                    );
                    let bytes = serde_json::to_vec(&error_reply(&msg_id(&msg), e.to_json()))
                        .unwrap_or_default();
                    core.push(
                        sid,
                        Out {
                            msg: bytes,
                            gate: None,
                        },
                    );
                } else {
                    n_waits += 1;
                    let arrived = Instant::now();
                    let tables = core.txn_tables(&msg);
                    waits.push(Waiting {
                        sid,
                        msg,
                        arrived,
                        deadline: remaining_ms.map(|ms| arrived + Duration::from_millis(ms)),
                        tables,
                    });
                }
            }
            Ok(core.backlog(sid) <= pause)
        });
        self.waits = n_waits;
        match r {
            Input::More => true,
            Input::Drained | Input::Paused => false,
            Input::Bad(err) => {
                tracing::warn!("session {sid}: {err}; closing");
                if !err.is_null() {
                    core.push(
                        sid,
                        Out {
                            msg: err_bytes(err),
                            gate: None,
                        },
                    );
                }
                self.state = State::Closing;
                self.readable = false;
                false
            }
        }
    }

    /// Answers the session's pending input with a "resources exhausted"
    /// error and closes it once the error is out (the input is dropped).
    pub fn refuse_input(&mut self, core: &mut Core, budget: usize) {
        self.framer = Framer::with_limit(self.limits.message_bytes);
        self.stalled = false;
        self.readable = false;
        if self.state != State::Open {
            return;
        }
        self.state = State::Closing;
        if let Kind::Session(sid) = self.kind {
            let e = OvsdbError::new(
                "resources exhausted",
                format!("input of all sessions exceeds {budget} bytes"),
            );
            core.push(
                sid,
                Out {
                    msg: err_bytes(e.to_json()),
                    gate: None,
                },
            );
        }
    }

    /// Reads a unixctl connection's requests into `reqs`. Anything but a
    /// request closes it. Returns whether input may remain.
    pub fn read_ctl(&mut self, buf: &mut [u8], reqs: &mut Vec<CtlRequest>) -> bool {
        let r = self.read_input(buf, false, |text| {
            match Message::parse(&text).map(Message::generic) {
                Ok(Message::Request { method, params, id }) => {
                    let args = params
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .map(|x| {
                                    x.as_str()
                                        .map(str::to_string)
                                        .unwrap_or_else(|| x.to_string())
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    reqs.push(CtlRequest { id, method, args });
                    Ok(true)
                }
                _ => Err(Value::Null),
            }
        });
        match r {
            Input::More => true,
            Input::Drained | Input::Paused => false,
            Input::Bad(_) => {
                self.state = State::Dead;
                self.readable = false;
                false
            }
        }
    }

    /// Moves the session's sendable output from `core` into the write
    /// buffer and writes it with one write(2). Returns whether output is
    /// left for EPOLLOUT (the caller registers for it).
    pub fn write_out(&mut self, core: &mut Core) -> bool {
        let left = self.write_buffered(core);
        if let Kind::Session(sid) = self.kind {
            core.set_unsent(sid, self.unsent());
        }
        left
    }

    fn write_buffered(&mut self, core: &mut Core) -> bool {
        loop {
            if self.wpos == self.wbuf.len() {
                self.wpos = 0;
                if self.wbuf.capacity() > 1 << 20 {
                    // A big reply went out: do not keep its memory.
                    self.wbuf = Vec::new();
                } else {
                    self.wbuf.clear();
                }
                // Only an empty buffer takes more from the engine: what the
                // kernel does not accept stays queued (and counted) there.
                if let Kind::Session(sid) = self.kind {
                    core.take_ready(sid, &mut self.wbuf);
                }
                if self.wbuf.is_empty() {
                    return false;
                }
            }
            match self.stream.write(&self.wbuf[self.wpos..]) {
                Ok(n) => {
                    self.wpos += n;
                    if self.wpos < self.wbuf.len() {
                        return true;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.state = State::Dead;
                    return false;
                }
            }
        }
    }

    /// Whether the connection is finished and should be closed now.
    pub fn finished(&self, core: &Core) -> bool {
        match self.state {
            State::Open => false,
            State::Eof | State::Dead => true,
            State::Closing => {
                !self.has_unsent()
                    && match self.kind {
                        Kind::Session(sid) => !core.has_output(sid),
                        Kind::Ctl => true,
                    }
            }
        }
    }
}

/// Result of reading a connection.
enum Input {
    /// Stopped at the fairness cap: more may be waiting.
    More,
    /// Read to the end (or the peer closed).
    Drained,
    /// Stopped because the session's output backs up.
    Paused,
    /// Bad input, with the error to answer.
    Bad(Value),
}

/// The id of a request (null for anything else).
fn msg_id(m: &Message) -> Value {
    match m {
        Message::Request { id, .. } | Message::Echo { id, .. } => id.clone(),
        Message::Transact(t) => t.id.clone(),
        _ => Value::Null,
    }
}

/// What a message that does not parse gets before the session closes:
/// nothing (null) for malformed JSON or JSON-RPC, as OVS, which logs it
/// and drops the connection; the error for a message over the bounds.
fn malformed_answer(e: OvsdbError) -> Value {
    if e.tag == "syntax error" {
        tracing::warn!("malformed JSON-RPC input: {}", e.details);
        Value::Null
    } else {
        e.to_json()
    }
}

fn err_bytes(e: Value) -> Vec<u8> {
    serde_json::to_vec(&error_reply(&Value::Null, e)).unwrap_or_default()
}
