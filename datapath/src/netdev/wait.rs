//! [`RxWaiter`]: how an idle PMD sleeps until one of its receive queues
//! has packets, instead of spinning.
//!
//! An epoll set of the queues' readiness descriptors ([`super::Netdev::rx_fd`]),
//! level-triggered, plus an eventfd that control threads write to wake the
//! PMD at once (new flows, a changed queue list, quit). The PMD polls while
//! traffic flows and, after a run of empty polls, calls [`RxWaiter::wait`].
//! Sleeping costs one wakeup (a few microseconds) on the first packet after
//! idleness; an idle PMD uses no CPU. A queue without a descriptor makes
//! the set unusable ([`RxWaiter::set_fds`] says so), and the PMD then keeps
//! its timed sleep.
//!
//! The queues' descriptors are in the set only while they may be needed
//! ([`RxWaiter::arm`], [`RxWaiter::disarm`]). A descriptor in an epoll set
//! hangs an entry on its socket's wait queue, and the kernel then takes
//! that queue's lock and runs epoll's callback for every packet the socket
//! receives and for every transmitted frame it frees, on whichever thread
//! does that (the sender's, for received packets). Forwarding 64-byte UDP
//! between two AF_XDP ports, that was 4.2% of both CPUs' time in
//! `sock_def_readable` and `sock_wfree` (perf, `ferrovs bench`), where OVS,
//! whose PMDs never sleep, pays 0.7%. So the PMD arms the set just before
//! it sleeps (adding a descriptor polls it once, so a packet already queued
//! ends the wait at once) and disarms it once traffic has kept it busy
//! for a while; sparse traffic (a ping) leaves it armed between sleeps.
//!
//! [`ReadySet`] is the same kind of set asked without sleeping: which of
//! its queues have packets now (one `epoll_wait` for all of them). Its
//! descriptors stay in it: it is asked while the PMD is busy.

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
    /// The queues' descriptors with their tokens (each once).
    fds: Vec<(RawFd, u64)>,
    /// Whether `fds` are in the epoll set now.
    armed: bool,
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
            armed: false,
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
    /// queue that has none), armed. Returns whether the set can be waited
    /// on (every queue has a descriptor and epoll took it).
    pub fn set_fds(&mut self, fds: impl IntoIterator<Item = Option<RawFd>>) -> bool {
        self.disarm();
        self.fds.clear();
        self.usable = true;
        for (i, fd) in fds.into_iter().enumerate() {
            match fd {
                Some(fd) if !self.fds.iter().any(|&(f, _)| f == fd) => {
                    self.fds.push((fd, i as u64));
                }
                Some(_) => {}
                None => self.usable = false,
            }
        }
        self.arm()
    }

    pub fn is_usable(&self) -> bool {
        self.usable
    }

    /// Whether the queues' descriptors are in the set now.
    pub fn is_armed(&self) -> bool {
        self.armed
    }

    /// Puts the queues' descriptors in the set (nothing if they are).
    /// Returns whether the set can be waited on; a descriptor epoll
    /// refuses makes it unusable until the next [`RxWaiter::set_fds`].
    pub fn arm(&mut self) -> bool {
        if self.armed || !self.usable {
            return self.usable;
        }
        self.armed = true;
        for &(fd, token) in &self.fds {
            if self.ep.ctl(libc::EPOLL_CTL_ADD, fd, token).is_err() {
                self.usable = false;
            }
        }
        self.usable
    }

    /// Takes the queues' descriptors out of the set (the waker stays), so
    /// their sockets' traffic no longer calls into epoll.
    pub fn disarm(&mut self) {
        if !self.armed {
            return;
        }
        for &(fd, _) in &self.fds {
            let _ = self.ep.ctl(libc::EPOLL_CTL_DEL, fd, 0);
        }
        self.armed = false;
    }

    /// Sleeps until a queue is readable, the waker fires, or `timeout`
    /// passes. Returns true when woken by a queue or the waker. Only the
    /// waker can end it while the set is disarmed.
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixDatagram;
    use std::time::Instant;

    const LONG: Duration = Duration::from_secs(5);
    const SHORT: Duration = Duration::from_millis(30);

    #[test]
    fn a_disarmed_set_sleeps_through_packets_and_arming_sees_them_at_once() {
        let (tx, rx) = UnixDatagram::pair().unwrap();
        let mut w = RxWaiter::new().unwrap();
        assert!(w.set_fds([Some(rx.as_raw_fd())]));
        assert!(w.is_armed());
        tx.send(b"x").unwrap();
        let t = Instant::now();
        assert!(w.wait(LONG), "an armed set wakes on a readable queue");
        assert!(t.elapsed() < LONG);

        w.disarm();
        assert!(!w.is_armed());
        assert!(!w.wait(SHORT), "a disarmed set ignores its queues");

        // The packet queued while disarmed ends the next wait at once.
        assert!(w.arm());
        let t = Instant::now();
        assert!(w.wait(LONG));
        assert!(t.elapsed() < LONG);
    }

    #[test]
    fn the_waker_ends_a_disarmed_wait() {
        let (_tx, rx) = UnixDatagram::pair().unwrap();
        let mut w = RxWaiter::new().unwrap();
        assert!(w.set_fds([Some(rx.as_raw_fd())]));
        w.disarm();
        let waker = w.waker();
        let t = std::thread::spawn(move || {
            std::thread::sleep(SHORT);
            waker.wake();
        });
        let start = Instant::now();
        assert!(w.wait(LONG));
        assert!(start.elapsed() < LONG);
        t.join().unwrap();
    }

    #[test]
    fn a_queue_without_descriptor_makes_the_set_unusable() {
        let (_tx, rx) = UnixDatagram::pair().unwrap();
        let mut w = RxWaiter::new().unwrap();
        assert!(!w.set_fds([Some(rx.as_raw_fd()), None]));
        assert!(!w.arm());
        assert!(w.set_fds([Some(rx.as_raw_fd()), Some(rx.as_raw_fd())]));
        w.disarm();
        assert!(
            w.arm(),
            "arming again after a disarm re-adds each descriptor once"
        );
    }
}
