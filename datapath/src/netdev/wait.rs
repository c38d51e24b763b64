//! [`RxWaiter`]: how an idle PMD sleeps until one of its receive queues
//! has packets, instead of spinning.
//!
//! An epoll set of the queues' readiness descriptors ([`super::Netdev::rx_fd`]),
//! level-triggered, plus an eventfd that control threads write to wake the
//! PMD at once (new flows, a changed queue list, quit). The PMD polls while
//! traffic flows and, after a run of empty polls, calls [`RxWaiter::wait`];
//! the set is rebuilt only when its queue list changes. Sleeping costs one
//! wakeup (a few microseconds) on the first packet after idleness; an idle
//! PMD uses no CPU. A queue without a descriptor makes the set unusable
//! ([`RxWaiter::set_fds`] says so), and the PMD then keeps its timed sleep.
//!
//! [`ReadySet`] is the same kind of set asked without sleeping: which of
//! its queues have packets now (one `epoll_wait` for all of them).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::Duration;

/// Wakes a sleeping [`RxWaiter`] from another thread.
#[derive(Clone)]
pub struct RxWaker(Arc<OwnedFd>);

impl RxWaker {
    /// A waker of its own (an eventfd), to be given to
    /// [`RxWaiter::with_waker`]: a control side can then hold it before
    /// the waiter exists, and keep it across waiters.
    pub fn new() -> io::Result<RxWaker> {
        // SAFETY: a plain system call; the descriptor is owned below.
        let ev = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if ev < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh descriptor owned by nobody else.
        Ok(RxWaker(Arc::new(unsafe { OwnedFd::from_raw_fd(ev) })))
    }

    pub fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to our eventfd.
        unsafe {
            libc::write(
                self.0.as_raw_fd(),
                &one as *const u64 as *const libc::c_void,
                8,
            );
        }
    }
}

/// An epoll instance: level-triggered `EPOLLIN` interest, a token per
/// descriptor.
struct Epoll(OwnedFd);

impl Epoll {
    fn new() -> io::Result<Epoll> {
        // SAFETY: a plain system call; the descriptor is owned below.
        let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if ep < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh descriptor owned by nobody else.
        Ok(Epoll(unsafe { OwnedFd::from_raw_fd(ep) }))
    }

    fn ctl(&self, op: i32, fd: RawFd, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: token,
        };
        // SAFETY: a valid epoll_event for the call.
        let r = unsafe { libc::epoll_ctl(self.0.as_raw_fd(), op, fd, &mut ev) };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// Waits up to `ms` milliseconds (0: not at all); the ready events are
    /// the first ones of `evs`, their number returned.
    fn wait(&self, evs: &mut [libc::epoll_event], ms: i32) -> usize {
        let max = evs.len().min(i32::MAX as usize) as i32;
        // SAFETY: `evs` has room for the `max` events passed.
        let n = unsafe { libc::epoll_wait(self.0.as_raw_fd(), evs.as_mut_ptr(), max, ms) };
        n.max(0) as usize
    }
}

pub struct RxWaiter {
    ep: Epoll,
    wake: Arc<OwnedFd>,
    fds: Vec<RawFd>,
    usable: bool,
}

const WAKE_TOKEN: u64 = u64::MAX;

impl RxWaiter {
    pub fn new() -> io::Result<RxWaiter> {
        RxWaiter::with_waker(RxWaker::new()?)
    }

    /// A waiter woken by `waker` (and its clones).
    pub fn with_waker(waker: RxWaker) -> io::Result<RxWaiter> {
        let w = RxWaiter {
            ep: Epoll::new()?,
            wake: waker.0,
            fds: Vec::new(),
            usable: false,
        };
        w.ep.ctl(libc::EPOLL_CTL_ADD, w.wake.as_raw_fd(), WAKE_TOKEN)?;
        Ok(w)
    }

    /// A handle that wakes this waiter.
    pub fn waker(&self) -> RxWaker {
        RxWaker(self.wake.clone())
    }

    /// Makes the set the queues' descriptors (one per queue, `None` for a
    /// queue that has none). Returns whether the set can be waited on
    /// (every queue has a descriptor and epoll took it).
    pub fn set_fds(&mut self, fds: impl IntoIterator<Item = Option<RawFd>>) -> bool {
        for &fd in &self.fds {
            let _ = self.ep.ctl(libc::EPOLL_CTL_DEL, fd, 0);
        }
        self.fds.clear();
        self.usable = true;
        for (i, fd) in fds.into_iter().enumerate() {
            match fd {
                Some(fd) if !self.fds.contains(&fd) => {
                    if self.ep.ctl(libc::EPOLL_CTL_ADD, fd, i as u64).is_err() {
                        self.usable = false;
                    } else {
                        self.fds.push(fd);
                    }
                }
                Some(_) => {}
                None => self.usable = false,
            }
        }
        self.usable
    }

    pub fn is_usable(&self) -> bool {
        self.usable
    }

    /// Sleeps until a queue is readable, the waker fires, or `timeout`
    /// passes. Returns true when woken by a queue or the waker.
    pub fn wait(&self, timeout: Duration) -> bool {
        let mut evs = [libc::epoll_event { events: 0, u64: 0 }; 8];
        // epoll counts milliseconds: round up (a shorter timeout must not
        // become a busy loop of zero-length waits).
        let ms = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
        let n = self.ep.wait(&mut evs, ms);
        if n == 0 {
            return false;
        }
        for e in &evs[..n] {
            if e.u64 == WAKE_TOKEN {
                let mut v = 0u64;
                // SAFETY: reads 8 bytes into a live u64 (drains the count).
                unsafe {
                    libc::read(
                        self.wake.as_raw_fd(),
                        &mut v as *mut u64 as *mut libc::c_void,
                        8,
                    );
                }
            }
        }
        true
    }
}

/// Which of some receive queues have packets, asked without sleeping.
pub struct ReadySet {
    ep: Epoll,
    fds: Vec<RawFd>,
    evs: Vec<libc::epoll_event>,
}

impl ReadySet {
    pub fn new() -> io::Result<ReadySet> {
        Ok(ReadySet {
            ep: Epoll::new()?,
            fds: Vec::new(),
            evs: Vec::new(),
        })
    }

    /// Makes the set these (token, descriptor) pairs. Returns false if
    /// epoll refused one (that queue is then never reported ready).
    pub fn set_fds(&mut self, fds: impl IntoIterator<Item = (usize, RawFd)>) -> bool {
        for &fd in &self.fds {
            let _ = self.ep.ctl(libc::EPOLL_CTL_DEL, fd, 0);
        }
        self.fds.clear();
        let mut ok = true;
        for (token, fd) in fds {
            if self.fds.contains(&fd) {
                continue;
            }
            match self.ep.ctl(libc::EPOLL_CTL_ADD, fd, token as u64) {
                Ok(()) => self.fds.push(fd),
                Err(_) => ok = false,
            }
        }
        self.evs = vec![libc::epoll_event { events: 0, u64: 0 }; self.fds.len().max(1)];
        ok
    }

    /// Calls `f` with the token of every descriptor readable now; returns
    /// how many there were.
    pub fn ready(&mut self, mut f: impl FnMut(usize)) -> usize {
        if self.fds.is_empty() {
            return 0;
        }
        let n = self.ep.wait(&mut self.evs, 0);
        for e in &self.evs[..n] {
            f(e.u64 as usize);
        }
        n
    }
}
