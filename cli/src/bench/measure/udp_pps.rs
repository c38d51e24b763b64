//! 64-byte UDP packets per second delivered from host 1 to host 2.
//!
//! Two threads of this process enter the hosts' network namespaces
//! (`setns` changes only the calling thread's namespace, so the sockets
//! they open live there): a blaster that sends 18-byte datagrams (64-byte
//! Ethernet frames with the FCS) with `sendmmsg` in batches of 64 as fast
//! as the kernel takes them, and a counter that drains its socket with
//! `recvmmsg` and counts per second. The figure is the median of the
//! per-second counts after the first second (warm-up); what was sent is
//! kept beside it, so loss shows.

use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use super::super::topology::{Topology, H1_ADDR, H2_ADDR};
use super::median;

#[derive(Debug, Clone, Copy)]
pub struct PpsFigure {
    /// Median per-second delivered packets.
    pub pps: f64,
    /// Packets sent per second on average (what the blaster got out).
    pub sent_pps: f64,
}

const PORT: u16 = 5302;
const BATCH: usize = 64;
/// 14 (Ethernet) + 20 (IPv4) + 8 (UDP) + 18 + 4 (FCS) = 64 bytes.
const PAYLOAD: usize = 18;

/// Runs `f` on a new thread inside network namespace `ns`.
pub(crate) fn in_netns<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<std::thread::JoinHandle<anyhow::Result<T>>> {
    let file = std::fs::File::open(format!("/run/netns/{ns}"))
        .with_context(|| format!("open namespace {ns}"))?;
    Ok(std::thread::Builder::new()
        .name(format!("bench-{ns}"))
        .spawn(move || {
            // SAFETY: setns on a valid namespace fd; it moves only this thread.
            if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                bail!("setns: {}", std::io::Error::last_os_error());
            }
            f()
        })?)
}

pub fn measure(t: &Topology, secs: u64) -> anyhow::Result<PpsFigure> {
    let (sent, per_sec) = run_flow(t, PORT, secs, |_| Ok(()), |_| Ok(()))?;
    if per_sec.iter().all(|&n| n == 0) {
        bail!("no UDP packet delivered (sent {sent})");
    }
    Ok(PpsFigure {
        pps: median(&whole_seconds(&per_sec)).unwrap_or(0.0),
        sent_pps: sent as f64 / (secs + 1) as f64,
    })
}

/// One UDP flow from host 1 to `port` on host 2 for `secs` seconds and
/// one of warm-up: a counter on host 2 (`open_counter` runs on its socket
/// once the blaster may start) and a blaster on host 1 (`open_blaster`
/// runs on its connected socket before it blasts). Returns what was sent
/// and the per-second counts.
pub(crate) fn run_flow(
    t: &Topology,
    port: u16,
    secs: u64,
    open_counter: impl FnOnce(&UdpSocket) -> anyhow::Result<()> + Send + 'static,
    open_blaster: impl FnOnce(&UdpSocket) -> anyhow::Result<()> + Send + 'static,
) -> anyhow::Result<(u64, Vec<u64>)> {
    let stop = Arc::new(AtomicBool::new(false));
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let s = stop.clone();
    let counter = in_netns(&t.h2, move || {
        let sock = UdpSocket::bind((H2_ADDR, port))?;
        set_rcvbuf(&sock, 8 << 20);
        let _ = ready_tx.send(());
        open_counter(&sock)?;
        sock.set_read_timeout(Some(Duration::from_millis(50)))?;
        count(&sock, &s)
    })?;
    ready_rx
        .recv_timeout(Duration::from_secs(5))
        .context("counter did not start")?;
    let s = stop.clone();
    let blaster = in_netns(&t.h1, move || {
        let sock = UdpSocket::bind((H1_ADDR, 0))?;
        sock.connect((H2_ADDR, port))?;
        open_blaster(&sock)?;
        blast(&sock, &s)
    })?;
    std::thread::sleep(Duration::from_secs(secs + 1));
    stop.store(true, Ordering::Relaxed);
    let sent = blaster
        .join()
        .map_err(|_| anyhow::anyhow!("blaster panicked"))??;
    let per_sec = counter
        .join()
        .map_err(|_| anyhow::anyhow!("counter panicked"))??;
    Ok((sent, per_sec))
}

/// The per-second counts as samples, without the warm-up second and the
/// partial last one (all of them when there are too few).
pub(crate) fn whole_seconds(per_sec: &[u64]) -> Vec<f64> {
    let whole = if per_sec.len() > 2 {
        &per_sec[1..per_sec.len() - 1]
    } else {
        per_sec
    };
    whole.iter().map(|&n| n as f64).collect()
}

pub(crate) fn set_rcvbuf(sock: &UdpSocket, bytes: libc::c_int) {
    // SAFETY: setsockopt with a valid fd and a c_int option value.
    unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            &bytes as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// Sends until `stop`; returns the packets the kernel accepted.
fn blast(sock: &UdpSocket, stop: &AtomicBool) -> anyhow::Result<u64> {
    let payload = [0x5au8; PAYLOAD];
    let mut iov: Vec<libc::iovec> = (0..BATCH)
        .map(|_| libc::iovec {
            iov_base: payload.as_ptr() as *mut libc::c_void,
            iov_len: PAYLOAD,
        })
        .collect();
    // SAFETY: mmsghdr is plain old data; zeroed is its empty value.
    let mut msgs: Vec<libc::mmsghdr> = (0..BATCH).map(|_| unsafe { std::mem::zeroed() }).collect();
    for (m, v) in msgs.iter_mut().zip(iov.iter_mut()) {
        m.msg_hdr.msg_iov = v;
        m.msg_hdr.msg_iovlen = 1;
    }
    let mut sent = 0u64;
    while !stop.load(Ordering::Relaxed) {
        // SAFETY: msgs points at BATCH headers whose iovecs point at
        // `payload`, all alive for the call; the socket is connected.
        let n = unsafe { libc::sendmmsg(sock.as_raw_fd(), msgs.as_mut_ptr(), BATCH as u32, 0) };
        if n > 0 {
            sent += n as u64;
        } else {
            // ENOBUFS/EAGAIN under overload: let the queues drain.
            std::thread::yield_now();
        }
    }
    Ok(sent)
}

/// Receives until `stop`; returns the packets received in each second
/// since the first one arrived.
fn count(sock: &UdpSocket, stop: &AtomicBool) -> anyhow::Result<Vec<u64>> {
    let mut bufs = vec![[0u8; 64]; BATCH];
    let mut iov: Vec<libc::iovec> = bufs
        .iter_mut()
        .map(|b| libc::iovec {
            iov_base: b.as_mut_ptr() as *mut libc::c_void,
            iov_len: b.len(),
        })
        .collect();
    // SAFETY: mmsghdr is plain old data; zeroed is its empty value.
    let mut msgs: Vec<libc::mmsghdr> = (0..BATCH).map(|_| unsafe { std::mem::zeroed() }).collect();
    for (m, v) in msgs.iter_mut().zip(iov.iter_mut()) {
        m.msg_hdr.msg_iov = v;
        m.msg_hdr.msg_iovlen = 1;
    }
    let mut per_sec: Vec<u64> = Vec::new();
    let mut t0: Option<Instant> = None;
    while !stop.load(Ordering::Relaxed) {
        // SAFETY: msgs points at BATCH headers whose iovecs point at
        // `bufs`, all alive and writable for the call.
        let n = unsafe {
            libc::recvmmsg(
                sock.as_raw_fd(),
                msgs.as_mut_ptr(),
                BATCH as u32,
                0,
                std::ptr::null_mut(),
            )
        };
        if n <= 0 {
            continue; // the read timeout: look at `stop` again
        }
        let start = *t0.get_or_insert_with(Instant::now);
        let sec = start.elapsed().as_secs() as usize;
        if per_sec.len() <= sec {
            per_sec.resize(sec + 1, 0);
        }
        per_sec[sec] += n as u64;
    }
    Ok(per_sec)
}
