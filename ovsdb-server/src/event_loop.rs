//! The server's single-threaded poll loop, like OVS's own: one epoll set
//! (through mio, edge-triggered) over the listeners, every session, the
//! active remotes, the unixctl socket and a signalfd; no async runtime,
//! no channel, no task switch on the path of a transaction.
//!
//! One turn:
//! 1. wait for events (the timeout is the nearest "wait" or reconnect
//!    deadline; zero if a session still has unread input);
//! 2. accept, and read every readable session to the end (or to the
//!    fairness cap), handling each message in `Core` at once;
//! 3. run the unixctl commands read, and re-run "wait" transactions after
//!    commits or at their deadline;
//! 4. flush every log once: one write(2), and one fdatasync(2) if any of
//!    the turn's transactions is durable (group commit);
//! 5. for every session with output, write what its gates let through
//!    (one write(2) each; partial writes wait for EPOLLOUT), then close the
//!    finished connections;
//! 6. re-read `db:` remotes if anything committed.
//!
//! Bounds (`Limits`): besides each session's own (see `session`), the
//! bytes all framers hold are summed in `input_held`; past
//! `Limits::input_total` the session with the largest partial input is
//! closed with an error. A session whose output backlog passes
//! `Limits::session_backlog` is closed with a log line.
//!
//! Slots: every registered socket lives in `slots`, indexed by its mio
//! token; freed slots are reused. `by_sid` maps engine session ids to
//! slots, so the sessions `Core` lists as dirty find their socket.

use crate::limits::Limits;
use crate::lock::SessionId;
use crate::remote::{Backoff, Listener, Remote, RemoteSpecs, Stream};
use crate::server::Core;
use crate::server::Handled;
use crate::session::{Conn, CtlRequest, Kind, State, Waiting};
use crate::unixctl::{self, Control};
use mio::net::UnixListener;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use std::collections::HashMap;
use std::io;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// Size of the read buffer shared by all connections.
const READ_BUF: usize = 64 * 1024;
/// Delay before retrying accept(2) after an error (e.g. out of descriptors).
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

enum Slot {
    Signal(SignalFd),
    /// A passive remote (its spec is in `running`).
    Listener(Listener),
    /// The unixctl socket and its path.
    CtlListener(UnixListener),
    Conn(Conn),
    /// An active TCP remote whose connect(2) is in progress.
    Connecting(Stream, String),
}

/// A running remote, by concrete spec.
enum Running {
    Listener(usize),
    Active {
        backoff: Backoff,
        /// The slot of its connection (or connection attempt), if any.
        slot: Option<usize>,
    },
    /// Could not be parsed; remembered so it is reported once.
    Unsupported,
}

/// Deferred work with a deadline.
enum Retry {
    Connect(String),
    Accept(usize),
}

pub struct EventLoop {
    poll: Poll,
    events: Events,
    core: Core,
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
    by_sid: HashMap<SessionId, usize>,
    /// Connections to read this turn (may hold duplicates and stale slots;
    /// `Conn::can_read` sorts them out).
    read_ready: Vec<usize>,
    /// Connections to visit in the write phase besides the engine's dirty
    /// sessions: EPOLLOUT, unixctl replies, state changes.
    write_ready: Vec<usize>,
    waits: Vec<Waiting>,
    retries: Vec<(Instant, Retry)>,
    specs: RemoteSpecs,
    running: HashMap<String, Running>,
    /// `Core::commits` when `db:` remotes were last re-read.
    remotes_seen: u64,
    ctl_path: Option<String>,
    exit: bool,
    buf: Vec<u8>,
    // Scratch vectors reused every turn.
    scratch: Vec<usize>,
    dirty: Vec<SessionId>,
    to_close: Vec<usize>,
    ctl_reqs: Vec<(usize, CtlRequest)>,
    ctl_scratch: Vec<CtlRequest>,
    touched: Vec<(usize, usize)>,
    limits: Limits,
    /// Sum of `Conn::input_held` over all connections.
    input_held: usize,
}

impl EventLoop {
    pub fn new(core: Core) -> io::Result<EventLoop> {
        Ok(EventLoop {
            poll: Poll::new()?,
            events: Events::with_capacity(256),
            core,
            slots: Vec::new(),
            free: Vec::new(),
            by_sid: HashMap::new(),
            read_ready: Vec::new(),
            write_ready: Vec::new(),
            waits: Vec::new(),
            retries: Vec::new(),
            specs: RemoteSpecs::default(),
            running: HashMap::new(),
            remotes_seen: 0,
            ctl_path: None,
            exit: false,
            touched: Vec::new(),
            limits: Limits::default(),
            input_held: 0,
            buf: vec![0; READ_BUF],
            scratch: Vec::new(),
            dirty: Vec::new(),
            to_close: Vec::new(),
            ctl_reqs: Vec::new(),
            ctl_scratch: Vec::new(),
        })
    }

    pub fn core(&mut self) -> &mut Core {
        &mut self.core
    }

    /// Gives the engine back (its logs are flushed and closed on drop).
    pub fn into_core(mut self) -> Core {
        self.shutdown();
        std::mem::take(&mut self.core)
    }

    fn insert(&mut self, mut slot: Slot, interest: Interest) -> io::Result<usize> {
        let i = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(None);
                self.slots.len() - 1
            }
        };
        let r = self.poll.registry();
        let res = match &mut slot {
            Slot::Signal(s) => r.register(&mut SourceFd(&s.as_raw_fd()), Token(i), interest),
            Slot::Listener(l) => r.register(l, Token(i), interest),
            Slot::CtlListener(l) => r.register(l, Token(i), interest),
            Slot::Conn(c) => r.register(&mut c.stream, Token(i), interest),
            Slot::Connecting(s, _) => r.register(s, Token(i), interest),
        };
        if let Err(e) = res {
            self.free.push(i);
            return Err(e);
        }
        self.slots[i] = Some(slot);
        Ok(i)
    }

    /// Removes slot `i` from the poll set and returns what it held.
    fn remove(&mut self, i: usize) -> Option<Slot> {
        let mut slot = self.slots.get_mut(i)?.take()?;
        let r = self.poll.registry();
        let _ = match &mut slot {
            Slot::Signal(s) => r.deregister(&mut SourceFd(&s.as_raw_fd())),
            Slot::Listener(l) => r.deregister(l),
            Slot::CtlListener(l) => r.deregister(l),
            Slot::Conn(c) => r.deregister(&mut c.stream),
            Slot::Connecting(s, _) => r.deregister(s),
        };
        self.free.push(i);
        Some(slot)
    }

    /// Sets the bounds applied to connections accepted from now on (and to
    /// the loop's own budgets).
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Turns SIGTERM, SIGINT and SIGHUP into a clean exit of `run`. They
    /// are blocked and read from a signalfd, so call this before any
    /// thread is started.
    pub fn watch_signals(&mut self) -> io::Result<()> {
        let mut mask = SigSet::empty();
        for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
            mask.add(s);
        }
        mask.thread_block().map_err(io::Error::from)?;
        let fd = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
            .map_err(io::Error::from)?;
        self.insert(Slot::Signal(fd), Interest::READABLE)?;
        Ok(())
    }

    /// Serves the unixctl socket at `path`.
    pub fn listen_unixctl(&mut self, path: &str) -> io::Result<()> {
        let _ = std::fs::remove_file(path);
        let l = UnixListener::bind(path)?;
        self.insert(Slot::CtlListener(l), Interest::READABLE)?;
        self.ctl_path = Some(path.to_string());
        Ok(())
    }

    /// Sets the remote specs and starts them; errors of remotes that could
    /// not start.
    pub fn set_remotes(&mut self, specs: Vec<String>) -> Vec<String> {
        self.specs.specs = specs;
        self.reconcile()
    }

    /// Opens a session on an already connected socket (tests, tools).
    pub fn add_session(&mut self, stream: Stream) -> io::Result<SessionId> {
        let sid = self.core.open_session();
        match self.insert(
            Slot::Conn(Conn::new(stream, Kind::Session(sid), &self.limits)),
            Interest::READABLE,
        ) {
            Ok(i) => {
                self.by_sid.insert(sid, i);
                Ok(sid)
            }
            Err(e) => {
                self.core.close_session(sid);
                Err(e)
            }
        }
    }

    /// Runs until a signal (see `watch_signals`) or unixctl `exit`.
    pub fn run(&mut self) -> io::Result<()> {
        while !self.exit {
            self.turn()?;
        }
        tracing::info!("exiting");
        Ok(())
    }

    /// One iteration of the loop (see the module comment).
    pub fn turn(&mut self) -> io::Result<()> {
        let timeout = self.timeout();
        let mut events = std::mem::replace(&mut self.events, Events::with_capacity(0));
        let r = self.poll.poll(&mut events, timeout);
        if let Err(e) = r {
            self.events = events;
            if e.kind() == io::ErrorKind::Interrupted {
                return Ok(());
            }
            return Err(e);
        }
        for ev in events.iter() {
            let i = ev.token().0;
            let hup = ev.is_read_closed() || ev.is_error();
            let readable = ev.is_readable() || hup;
            let writable = ev.is_writable() || ev.is_write_closed() || ev.is_error();
            self.dispatch(i, readable, writable, hup);
        }
        self.events = events;
        if !self.retries.is_empty() {
            self.run_retries();
        }
        self.read_phase();
        if !self.ctl_reqs.is_empty() {
            self.run_ctl();
        }
        self.run_waits();
        self.core.flush();
        self.write_phase();
        if self.specs.uses_db() && self.core.commits() != self.remotes_seen {
            self.remotes_seen = self.core.commits();
            self.reconcile();
            // New sessions of db: remotes may have queued nothing yet; a
            // removed remote may have closed sessions with lock holders.
            self.write_phase();
        }
        Ok(())
    }

    fn timeout(&self) -> Option<Duration> {
        if !self.read_ready.is_empty() {
            return Some(Duration::ZERO);
        }
        let next = self
            .waits
            .iter()
            .filter_map(|w| w.deadline)
            .chain(self.retries.iter().map(|r| r.0))
            .min()?;
        Some(next.saturating_duration_since(Instant::now()))
    }

    fn dispatch(&mut self, i: usize, readable: bool, writable: bool, hup: bool) {
        let Some(Some(slot)) = self.slots.get_mut(i) else {
            return;
        };
        match slot {
            Slot::Signal(fd) => {
                while let Ok(Some(info)) = fd.read_signal() {
                    tracing::info!("signal {} received", info.ssi_signo);
                    self.exit = true;
                }
            }
            Slot::Listener(_) | Slot::CtlListener(_) => self.accept_all(i),
            Slot::Conn(c) => {
                if readable {
                    c.readable = true;
                    c.hup |= hup;
                    self.read_ready.push(i);
                }
                if writable && c.want_write {
                    self.write_ready.push(i);
                }
            }
            Slot::Connecting(s, spec) => match s.connected() {
                Ok(false) => {}
                Ok(true) => {
                    let spec = spec.clone();
                    if let Some(Slot::Connecting(s, _)) = self.remove(i) {
                        self.connected(s, spec);
                    }
                }
                Err(e) => {
                    let spec = spec.clone();
                    tracing::debug!("{spec}: connect: {e}");
                    self.remove(i);
                    self.retry_connect(&spec);
                }
            },
        }
    }

    fn accept_all(&mut self, i: usize) {
        loop {
            let r = match self.slots.get(i) {
                Some(Some(Slot::Listener(l))) => l.accept().map(|s| (s, false)),
                Some(Some(Slot::CtlListener(l))) => {
                    l.accept().map(|(s, _)| (Stream::Unix(s), true))
                }
                _ => return,
            };
            match r {
                Ok((s, false)) => {
                    if let Err(e) = self.add_session(s) {
                        tracing::warn!("register session: {e}");
                    }
                }
                Ok((s, true)) => {
                    if let Err(e) = self.insert(
                        Slot::Conn(Conn::new(s, Kind::Ctl, &self.limits)),
                        Interest::READABLE,
                    ) {
                        tracing::warn!("register unixctl connection: {e}");
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // Edge-triggered: the pending connection raises no new
                    // edge, so try again shortly.
                    tracing::warn!("accept: {e}");
                    self.retries
                        .push((Instant::now() + ACCEPT_RETRY, Retry::Accept(i)));
                    return;
                }
            }
        }
    }

    fn read_phase(&mut self) {
        if self.read_ready.is_empty() {
            return;
        }
        let mut list = std::mem::take(&mut self.read_ready);
        for &i in &list {
            let Some(Some(Slot::Conn(c))) = self.slots.get_mut(i) else {
                continue;
            };
            if !c.can_read() {
                continue;
            }
            let held = c.input_held();
            let more = match c.kind {
                Kind::Session(_) => c.read_session(&mut self.core, &mut self.buf, &mut self.waits),
                Kind::Ctl => {
                    let more = c.read_ctl(&mut self.buf, &mut self.ctl_scratch);
                    self.ctl_reqs
                        .extend(self.ctl_scratch.drain(..).map(|r| (i, r)));
                    more
                }
            };
            if more {
                self.scratch.push(i);
            }
            if c.state != State::Open {
                self.write_ready.push(i);
            }
            self.input_held = self.input_held.saturating_sub(held) + c.input_held();
            if self.input_held > self.limits.input_total {
                self.shed_input();
            }
        }
        list.clear();
        std::mem::swap(&mut list, &mut self.scratch);
        self.read_ready = list;
    }

    /// Over the global input budget: closes the session holding the most
    /// input (an error reply first), as if its message were too long.
    fn shed_input(&mut self) {
        let biggest = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match s {
                Some(Slot::Conn(c)) if c.state == State::Open => Some((c.input_held(), i)),
                _ => None,
            })
            .max();
        let Some((held, i)) = biggest else {
            return;
        };
        tracing::warn!(
            "input of all sessions exceeds {} bytes: closing the session holding {held}",
            self.limits.input_total
        );
        if let Some(Some(Slot::Conn(c))) = self.slots.get_mut(i) {
            c.refuse_input(&mut self.core, self.limits.input_total);
            self.input_held -= held;
            self.write_ready.push(i);
        }
    }

    fn run_ctl(&mut self) {
        let reqs = std::mem::take(&mut self.ctl_reqs);
        for (i, req) in reqs {
            let (res, exit) = unixctl::run_command(self, &req.method, &req.args);
            let bytes = unixctl::reply_bytes(&req.id, res);
            if let Some(Some(Slot::Conn(c))) = self.slots.get_mut(i) {
                c.queue(&bytes);
                self.write_ready.push(i);
            }
            if exit {
                self.exit = true;
            }
        }
    }

    /// Re-runs waiting transactions whose tables a commit touched, or
    /// whose deadline passed, until a pass commits nothing more. A commit
    /// elsewhere costs them nothing.
    fn run_waits(&mut self) {
        loop {
            self.core.take_touched(&mut self.touched);
            if self.waits.is_empty() {
                return;
            }
            self.touched.sort_unstable();
            self.touched.dedup();
            let before = self.core.commits();
            let now = Instant::now();
            let waits = std::mem::take(&mut self.waits);
            let mut kept = Vec::with_capacity(waits.len());
            for mut w in waits {
                if !self.core.has_session(w.sid) {
                    continue;
                }
                let touched = match &w.tables {
                    None => !self.touched.is_empty(),
                    Some(t) => t.iter().any(|x| self.touched.binary_search(x).is_ok()),
                };
                if !touched && w.deadline.is_none_or(|d| d > now) {
                    kept.push(w);
                    continue;
                }
                let elapsed = now.saturating_duration_since(w.arrived).as_millis() as u64;
                match self.core.handle(w.sid, &w.msg, elapsed) {
                    Handled::Done => {
                        let slot = self.by_sid.get(&w.sid).copied();
                        if let Some(Some(Slot::Conn(c))) = slot.and_then(|i| self.slots.get_mut(i))
                        {
                            c.waits = c.waits.saturating_sub(1);
                        }
                    }
                    Handled::Retry { remaining_ms } => {
                        w.deadline = remaining_ms.map(|ms| now + Duration::from_millis(ms));
                        kept.push(w);
                    }
                }
            }
            self.waits = kept;
            if self.core.commits() == before {
                self.core.take_touched(&mut self.touched);
                return;
            }
        }
    }

    fn run_retries(&mut self) {
        let now = Instant::now();
        let mut k = 0;
        while k < self.retries.len() {
            if self.retries[k].0 > now {
                k += 1;
                continue;
            }
            match self.retries.swap_remove(k).1 {
                Retry::Accept(i) => self.accept_all(i),
                Retry::Connect(spec) => {
                    if let Some(Running::Active { slot: None, .. }) = self.running.get(&spec) {
                        self.connect(&spec);
                    }
                }
            }
        }
    }

    fn write_phase(&mut self) {
        loop {
            self.core.take_dirty(&mut self.dirty);
            if self.dirty.is_empty() && self.write_ready.is_empty() {
                break;
            }
            let dirty = std::mem::take(&mut self.dirty);
            for sid in &dirty {
                if let Some(&i) = self.by_sid.get(sid) {
                    self.write_conn(i);
                }
            }
            self.dirty = dirty;
            let ready = std::mem::take(&mut self.write_ready);
            for &i in &ready {
                self.write_conn(i);
            }
            self.write_ready = ready;
            self.write_ready.clear();
            let closing = std::mem::take(&mut self.to_close);
            for &i in &closing {
                self.close(i);
            }
            self.to_close = closing;
            self.to_close.clear();
        }
    }

    fn write_conn(&mut self, i: usize) {
        let Some(Some(Slot::Conn(c))) = self.slots.get_mut(i) else {
            return;
        };
        let left = c.write_out(&mut self.core);
        if let Kind::Session(sid) = c.kind {
            let backlog = self.core.backlog(sid);
            if backlog > self.limits.session_backlog && c.state == State::Open {
                tracing::warn!(
                    "session {sid}: {backlog} bytes of output not read by the client (limit {}); closing",
                    self.limits.session_backlog
                );
                c.state = State::Dead;
            }
        }
        if left != c.want_write {
            let interest = if left {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            match self
                .poll
                .registry()
                .reregister(&mut c.stream, Token(i), interest)
            {
                Ok(()) => c.want_write = left,
                Err(_) => c.state = State::Dead,
            }
        }
        if !left && c.can_read() {
            // Back-pressure released: read what waited.
            self.read_ready.push(i);
        }
        if c.finished(&self.core) {
            self.to_close.push(i);
        }
    }

    fn close(&mut self, i: usize) {
        let Some(Slot::Conn(c)) = self.remove(i) else {
            return;
        };
        self.input_held = self.input_held.saturating_sub(c.input_held());
        if let Kind::Session(sid) = c.kind {
            self.by_sid.remove(&sid);
            self.core.close_session(sid);
        }
        if let Some(spec) = &c.active {
            if let Some(Running::Active { slot, .. }) = self.running.get_mut(spec) {
                *slot = None;
                self.retry_connect(spec);
            }
        }
    }

    /// Starts missing remotes and stops removed ones. Returns errors of
    /// remotes that could not start.
    fn reconcile(&mut self) -> Vec<String> {
        let want = self.specs.desired(&self.core);
        let gone: Vec<String> = self
            .running
            .keys()
            .filter(|k| !want.contains(k))
            .cloned()
            .collect();
        for k in gone {
            self.stop_remote(&k);
        }
        let mut errs = Vec::new();
        for w in want {
            if self.running.contains_key(&w) {
                continue;
            }
            match Remote::parse(&w) {
                Some(r) if r.is_passive() => {
                    match Listener::bind(&r)
                        .and_then(|l| self.insert(Slot::Listener(l), Interest::READABLE))
                    {
                        Ok(i) => {
                            tracing::info!("listening on {w}");
                            self.running.insert(w, Running::Listener(i));
                        }
                        Err(e) => {
                            tracing::warn!("{w}: {e}");
                            errs.push(format!("{w}: {e}"));
                        }
                    }
                }
                Some(_) => {
                    tracing::info!("connecting to {w}");
                    self.running.insert(
                        w.clone(),
                        Running::Active {
                            backoff: Backoff::default(),
                            slot: None,
                        },
                    );
                    self.connect(&w);
                }
                None => {
                    tracing::warn!("{w}: unsupported remote");
                    errs.push(format!("{w}: unsupported remote"));
                    self.running.insert(w, Running::Unsupported);
                }
            }
        }
        errs
    }

    fn stop_remote(&mut self, spec: &str) {
        match self.running.remove(spec) {
            Some(Running::Listener(i)) => {
                if let Some(Slot::Listener(l)) = self.remove(i) {
                    l.unlink();
                }
            }
            Some(Running::Active { slot: Some(i), .. }) => {
                if let Some(Some(Slot::Conn(_))) = self.slots.get(i) {
                    self.close(i);
                } else {
                    self.remove(i);
                }
            }
            _ => {}
        }
    }

    /// Tries to connect active remote `spec` (which is in `running`).
    fn connect(&mut self, spec: &str) {
        let Some(r) = Remote::parse(spec) else {
            return;
        };
        match Stream::connect(&r) {
            Ok(s @ Stream::Unix(_)) => self.connected(s, spec.to_string()),
            Ok(s) => match self.insert(
                Slot::Connecting(s, spec.to_string()),
                Interest::READABLE | Interest::WRITABLE,
            ) {
                Ok(i) => {
                    if let Some(Running::Active { slot, .. }) = self.running.get_mut(spec) {
                        *slot = Some(i);
                    }
                }
                Err(e) => {
                    tracing::debug!("{spec}: {e}");
                    self.retry_connect(spec);
                }
            },
            Err(e) => {
                tracing::debug!("{spec}: connect: {e}");
                self.retry_connect(spec);
            }
        }
    }

    /// An active remote's connection is up: serve it as a session.
    fn connected(&mut self, s: Stream, spec: String) {
        let sid = self.core.open_session();
        let mut c = Conn::new(s, Kind::Session(sid), &self.limits);
        c.active = Some(spec.clone());
        match self.insert(Slot::Conn(c), Interest::READABLE) {
            Ok(i) => {
                self.by_sid.insert(sid, i);
                if let Some(Running::Active { backoff, slot }) = self.running.get_mut(&spec) {
                    backoff.reset();
                    *slot = Some(i);
                }
            }
            Err(e) => {
                tracing::warn!("{spec}: {e}");
                self.core.close_session(sid);
                self.retry_connect(&spec);
            }
        }
    }

    fn retry_connect(&mut self, spec: &str) {
        if let Some(Running::Active { backoff, slot }) = self.running.get_mut(spec) {
            *slot = None;
            let at = Instant::now() + backoff.next_delay();
            self.retries.push((at, Retry::Connect(spec.to_string())));
        }
    }

    /// Stops every remote (removing `punix` socket files) and the unixctl
    /// socket.
    pub fn shutdown(&mut self) {
        let specs: Vec<String> = self.running.keys().cloned().collect();
        for s in specs {
            self.stop_remote(&s);
        }
        if let Some(p) = self.ctl_path.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

impl Control for EventLoop {
    fn core(&mut self) -> &mut Core {
        &mut self.core
    }

    fn add_remote(&mut self, spec: &str) -> Vec<String> {
        if !self.specs.specs.iter().any(|s| s == spec) {
            self.specs.specs.push(spec.to_string());
        }
        self.reconcile()
    }

    fn remove_remote(&mut self, spec: &str) -> bool {
        match self.specs.specs.iter().position(|s| s == spec) {
            Some(p) => {
                self.specs.specs.remove(p);
                self.reconcile();
                true
            }
            None => false,
        }
    }

    fn list_remotes(&self) -> Vec<String> {
        self.specs.list()
    }
}
