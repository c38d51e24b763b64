//! New TCP connections per second through the firewall: every connection
//! is a SYN (tracked `+new` and committed), a SYN-ACK and an ACK (`+est`),
//! then an RST (the client closes with a zero linger, so neither host
//! keeps TIME_WAIT state and the ephemeral ports cycle fast).
//!
//! A listener thread in host 2 (a deep accept queue, woken by poll(2))
//! accepts and drops; [`CLIENTS`] threads in
//! host 1 connect and close in a loop and add to one counter, sampled
//! once a second. The figure is the median of the per-second counts
//! after the first second. Host 1's ephemeral port range is widened so
//! that a 5-tuple comes back only every ~64,000 connections per thread.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use super::super::measure::median;
use super::super::measure::udp_pps::in_netns;
use super::super::topology::{Topology, H2_ADDR};

const PORT: u16 = 5303;
const CLIENTS: usize = 4;
/// Longer than the first SYN retransmission (1 s): a lost SYN shows as
/// the client's `TcpExtTCPSynRetrans` (a 1 s stall) rather than as a
/// failed attempt; failures are connections that did not open at all.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The listener's accept queue (the namespace's somaxconn caps it).
const BACKLOG: i32 = 4096;

pub struct RateFigure {
    /// Median connections completed per second.
    pub per_sec: f64,
    /// Connections that failed (refused, timed out) in all.
    pub failed: u64,
    /// Connections completed in all.
    pub completed: u64,
}

pub fn measure(t: &Topology, secs: u64) -> anyhow::Result<RateFigure> {
    t.exec(
        &t.h1,
        &["sysctl", "-qw", "net.ipv4.ip_local_port_range=1024 65000"],
    )?;
    let stop = Arc::new(AtomicBool::new(false));
    // The clients stop first: a connection attempted after the listener
    // closed would be refused and counted as failed.
    let clients_stop = Arc::new(AtomicBool::new(false));
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let s = stop.clone();
    let server = in_netns(&t.h2, move || {
        let l = TcpListener::bind((H2_ADDR, PORT))?;
        deepen_backlog(&l);
        l.set_nonblocking(true)?;
        let _ = ready_tx.send(());
        while !s.load(Ordering::Relaxed) {
            match l.accept() {
                Ok((c, _)) => drop(c),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => wait_readable(&l, 50),
                Err(_) => {}
            }
        }
        Ok(())
    })?;
    ready_rx
        .recv_timeout(Duration::from_secs(5))
        .context("listener did not start")?;
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let (s, d, f) = (clients_stop.clone(), done.clone(), failed.clone());
        clients.push(in_netns(&t.h1, move || {
            let to: SocketAddr = format!("{H2_ADDR}:{PORT}").parse()?;
            while !s.load(Ordering::Relaxed) {
                match TcpStream::connect_timeout(&to, CONNECT_TIMEOUT) {
                    Ok(c) => {
                        reset_on_close(&c);
                        drop(c);
                        d.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => {
                        f.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            Ok(())
        })?);
    }
    let mut per_sec = Vec::new();
    let mut last = 0;
    for _ in 0..=secs {
        std::thread::sleep(Duration::from_secs(1));
        let n = done.load(Ordering::Relaxed);
        per_sec.push((n - last) as f64);
        last = n;
    }
    clients_stop.store(true, Ordering::Relaxed);
    let joined: Vec<_> = clients.into_iter().map(|c| c.join()).collect();
    stop.store(true, Ordering::Relaxed);
    server
        .join()
        .map_err(|_| anyhow::anyhow!("listener panicked"))??;
    for j in joined {
        j.map_err(|_| anyhow::anyhow!("client panicked"))??;
    }
    if last == 0 {
        anyhow::bail!("no TCP connection completed");
    }
    Ok(RateFigure {
        per_sec: median(&per_sec[1..]).unwrap_or(0.0),
        failed: failed.load(Ordering::Relaxed),
        completed: done.load(Ordering::Relaxed),
    })
}

/// Listens again with a backlog of [`BACKLOG`] (std's is 128): a
/// listener thread that loses its CPU for a moment on a loaded machine
/// must not make the kernel drop SYNs (`ListenOverflows`), which would
/// cost the client a 1 s retransmission, charged to the switch.
fn deepen_backlog(l: &TcpListener) {
    // SAFETY: listen(2) on a bound socket this function borrows.
    unsafe {
        libc::listen(l.as_raw_fd(), BACKLOG);
    }
}

/// Sleeps until `l` has a connection to accept, at most `ms`
/// milliseconds (so that the stop flag is seen).
fn wait_readable(l: &TcpListener, ms: i32) {
    let mut p = libc::pollfd {
        fd: l.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: poll(2) on one valid pollfd.
    unsafe {
        libc::poll(&mut p, 1, ms);
    }
}

/// `SO_LINGER {on, 0}`: close sends an RST and leaves no TIME_WAIT.
fn reset_on_close(c: &TcpStream) {
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt with a valid fd and a linger value.
    unsafe {
        libc::setsockopt(
            c.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &l as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}
