//! A unix-domain OpenFlow connection whose socket is watched for
//! readability only.
//!
//! Tokio's `UnixStream` registers its socket for reading and writing,
//! edge-triggered. On a unix stream socket the kernel reports "writable"
//! every time the peer consumes bytes this side sent (the freed buffer
//! space), so each reply the peer reads would wake the switch's thread
//! for nothing, and the peer pays for that wakeup inside its own receive
//! call: against `ovs-ofctl add-flows` (a flow-mod and a barrier per flow,
//! a reply read per flow) that was a quarter of the client's CPU time.
//!
//! Here the socket is registered for readability only and writes go
//! straight to it. Only when its send buffer is full is a duplicate of
//! the descriptor registered for writability; that registration lasts
//! until a write takes everything it was given (the connection's queued
//! output is out), so a long dump does not register and deregister at
//! every buffer's worth.
//!
//! Request/reply peers (`ovs-ofctl add-flows` waits for a barrier reply
//! per flow) would otherwise find the switch asleep at each request and
//! pay, in their own send, for waking it on another core; on an idle
//! machine that doubled ovs-ofctl's CPU time against ferrovs, while OVS,
//! whose main loop keeps running, is rarely asleep. So once a reply is
//! written, a read that finds nothing polls the socket (yielding the core
//! between tries) until `SPIN` after that reply, and sleeps only then. It
//! adapts: a spin that ends empty-handed turns spinning off, and a request
//! that arrives within `SPIN` of the reply anyway turns it back on, so a
//! peer that pauses between requests costs at most one `SPIN`. On a busy
//! machine spinning only takes the core from the peer that is to send the
//! request: a yield that gave the core away for longer than `CONTENDED`
//! ends the spin, and `STRIKES` of those without a spin that found its
//! request in between turn spinning off for `COOL_DOWN` (one late yield
//! is a hiccup; the core given away spin after spin is a busy machine).

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};

/// How long after a reply a read that finds nothing keeps polling.
pub const SPIN: Duration = Duration::from_micros(50);
/// A yield longer than this ran something else on the core.
pub const CONTENDED: Duration = Duration::from_micros(20);
/// How long contention keeps spinning off.
pub const COOL_DOWN: Duration = Duration::from_millis(100);
/// Contended spins (without a successful one between) before `COOL_DOWN`.
pub const STRIKES: u32 = 4;

pub struct UnixConn {
    sock: AsyncFd<UnixStream>,
    /// A duplicate of `sock`'s descriptor registered for writability while
    /// the send buffer is full.
    writable: Option<AsyncFd<OwnedFd>>,
    /// When the last write that took all it was given ended.
    replied: Option<Instant>,
    /// Whether an empty read after a reply polls before sleeping.
    spin: bool,
    /// No spinning before this (the core was contended).
    cool_until: Option<Instant>,
    /// Contended spins since the last successful one.
    strikes: u32,
    /// Reads served by polling (for tests and tuning).
    pub spin_hits: u64,
}

impl UnixConn {
    /// Takes over `s` (from tokio's listener or connect).
    pub fn new(s: tokio::net::UnixStream) -> io::Result<UnixConn> {
        let s = s.into_std()?;
        s.set_nonblocking(true)?;
        // SAFETY: the UnixStream owns its descriptor; it stays open and
        // the same until the AsyncFd that owns the stream is dropped.
        let sock = unsafe { AsyncFd::register_with_interest(s, Interest::READABLE) }?;
        Ok(UnixConn {
            sock,
            writable: None,
            replied: None,
            spin: true,
            cool_until: None,
            strikes: 0,
            spin_hits: 0,
        })
    }

    /// After a reply, polls the socket until `SPIN` after it for bytes
    /// (Some(n): read into `buf`); None when spinning is off, no reply is
    /// that recent, output waits for space, or nothing came.
    fn spin_read(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        let Some(replied) = self.replied else {
            return Ok(None);
        };
        if !self.spin || self.writable.is_some() || buf.is_empty() {
            return Ok(None);
        }
        let until = replied + SPIN;
        let mut now = Instant::now();
        while now < until {
            match self.sock.get_ref().read(buf) {
                Ok(n) => {
                    self.spin_hits += 1;
                    self.strikes = 0;
                    return Ok(Some(n));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::thread::yield_now();
                    let after = Instant::now();
                    if after - now > CONTENDED {
                        self.strikes += 1;
                        if self.strikes >= STRIKES {
                            self.strikes = 0;
                            self.spin = false;
                            self.cool_until = Some(after + COOL_DOWN);
                        }
                        return Ok(None);
                    }
                    now = after;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => now = Instant::now(),
                Err(e) => return Err(e),
            }
        }
        self.spin = false;
        Ok(None)
    }

    /// True while a writability registration exists (for tests).
    pub fn waits_for_space(&self) -> bool {
        self.writable.is_some()
    }

    /// Whether an empty read after a reply polls before sleeping.
    pub fn spinning(&self) -> bool {
        self.spin
    }
}

impl AsyncRead for UnixConn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            let mut guard = match this.sock.poll_read_ready(cx) {
                Poll::Ready(g) => g?,
                Poll::Pending => {
                    // Nothing known to be there: poll a little if a reply
                    // just went out (the waker stays registered; a late
                    // wakeup finds the socket empty and sleeps again).
                    return match this.spin_read(buf.initialize_unfilled())? {
                        Some(n) => {
                            buf.advance(n);
                            Poll::Ready(Ok(()))
                        }
                        None => Poll::Pending,
                    };
                }
            };
            let unfilled = buf.initialize_unfilled();
            let want = unfilled.len();
            match guard.try_io(|s| s.get_ref().read(unfilled)) {
                Ok(Ok(n)) => {
                    // A short read emptied the socket: the next read would
                    // only say EAGAIN, so wait for the next edge instead
                    // (tokio's own streams do the same).
                    if n > 0 && n < want {
                        guard.clear_ready();
                    }
                    // A request soon after the reply: worth spinning for.
                    if n > 0
                        && this.replied.is_some_and(|t| t.elapsed() < SPIN)
                        && this.cool_until.is_none_or(|t| t <= Instant::now())
                    {
                        this.spin = true;
                    }
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsyncWrite for UnixConn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            let Some(w) = &this.writable else {
                match this.sock.get_ref().write(buf) {
                    Ok(n) => {
                        if n == buf.len() {
                            this.replied = Some(Instant::now());
                        }
                        return Poll::Ready(Ok(n));
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        // Registering reports the current state, so space
                        // freed since the write above is not missed.
                        let fd = this.sock.get_ref().as_fd().try_clone_to_owned()?;
                        // SAFETY: the OwnedFd owns its (duplicate)
                        // descriptor until the AsyncFd owning it is dropped.
                        let w = unsafe { AsyncFd::register_with_interest(fd, Interest::WRITABLE) }?;
                        this.writable = Some(w);
                        continue;
                    }
                    Err(e) => return Poll::Ready(Err(e)),
                }
            };
            let mut guard = ready!(w.poll_write_ready(cx))?;
            let r = match guard.try_io(|_| this.sock.get_ref().write(buf)) {
                Ok(r) => r,
                Err(_would_block) => continue,
            };
            drop(guard);
            match r {
                Ok(n) => {
                    if n == buf.len() {
                        this.writable = None;
                        this.replied = Some(Instant::now());
                    }
                    return Poll::Ready(Ok(n));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.sock.get_ref().shutdown(std::net::Shutdown::Write))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn pair() -> (UnixConn, tokio::net::UnixStream) {
        let (a, b) = tokio::net::UnixStream::pair().unwrap();
        (UnixConn::new(a).unwrap(), b)
    }

    #[tokio::test]
    async fn echo_both_ways() {
        let (mut c, mut peer) = pair();
        peer.write_all(b"hello").await.unwrap();
        let mut buf = [0u8; 64];
        let n = c.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"hello");
        c.write_all(b"world").await.unwrap();
        let n = peer.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"world");
        assert!(!c.waits_for_space());
        // Data arriving after a short read (readiness cleared) is seen.
        let t = tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            peer.write_all(b"later").await.unwrap();
            peer
        });
        let n = c.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"later");
        drop(t.await.unwrap());
        assert_eq!(c.read(&mut buf).await.unwrap(), 0, "end of file");
    }

    /// More than the socket buffers hold: the writer waits for space and
    /// everything arrives in order; once all is written, the writability
    /// registration is gone.
    #[tokio::test]
    async fn full_buffer_waits_for_space() {
        let (mut c, mut peer) = pair();
        let data: Vec<u8> = (0..8 << 20).map(|i: u32| (i % 251) as u8).collect();
        let expect = data.clone();
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            let mut buf = vec![0u8; 64 * 1024];
            while got.len() < expect.len() {
                // Read slowly so that the writer finds the buffer full.
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                let n = peer.read(&mut buf).await.unwrap();
                assert!(n > 0);
                got.extend_from_slice(&buf[..n]);
            }
            assert!(got == expect, "bytes differ");
        });
        let mut sent = 0;
        let mut waited = false;
        while sent < data.len() {
            sent += c.write(&data[sent..]).await.unwrap();
            waited |= c.waits_for_space();
        }
        assert!(waited, "the socket buffer never filled");
        assert!(!c.waits_for_space());
        reader.await.unwrap();
    }

    /// A silent peer after a reply: the read polls for at most `SPIN`,
    /// then sleeps, and spinning is off; bytes that come later are read.
    #[tokio::test]
    async fn spin_gives_up_then_reads() {
        let (mut c, mut peer) = pair();
        assert!(c.spinning());
        c.write_all(b"reply").await.unwrap();
        let mut buf = [0u8; 64];
        let t0 = std::time::Instant::now();
        let r = tokio::time::timeout(Duration::from_millis(20), c.read(&mut buf)).await;
        assert!(r.is_err(), "nothing was sent");
        assert!(t0.elapsed() >= SPIN);
        assert!(!c.spinning(), "an empty spin turns spinning off");
        assert_eq!(c.spin_hits, 0);
        peer.write_all(b"req").await.unwrap();
        let n = c.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"req");
        let n = peer.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"reply");
    }

    /// A peer on another thread that answers at once is read by the spin
    /// or by the wakeup, never lost, for many round trips.
    #[tokio::test]
    async fn ping_pong_with_spin() {
        let (a, b) = tokio::net::UnixStream::pair().unwrap();
        let mut c = UnixConn::new(a).unwrap();
        let b = b.into_std().unwrap();
        b.set_nonblocking(false).unwrap();
        let peer = std::thread::spawn(move || {
            let mut b = b;
            let mut buf = [0u8; 4];
            for i in 0u32..2000 {
                b.read_exact(&mut buf).unwrap();
                assert_eq!(u32::from_be_bytes(buf), i);
                b.write_all(&(i + 1).to_be_bytes()).unwrap();
            }
        });
        let mut buf = [0u8; 4];
        for i in 0u32..2000 {
            c.write_all(&i.to_be_bytes()).await.unwrap();
            c.read_exact(&mut buf).await.unwrap();
            assert_eq!(u32::from_be_bytes(buf), i + 1);
        }
        peer.join().unwrap();
    }

    /// The peer closing while output waits ends the write with an error.
    #[tokio::test]
    async fn peer_gone() {
        let (mut c, peer) = pair();
        drop(peer);
        let r = c.write_all(&vec![0u8; 4 << 20]).await;
        assert!(r.is_err());
    }
}
