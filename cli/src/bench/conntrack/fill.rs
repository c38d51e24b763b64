//! Memory per connection at about a million connections: host 1 sends
//! one UDP datagram to each of 16 addresses x 62,500 ports (routed
//! through host 2's address, which drops them), so the firewall commits
//! 1,000,000 connections in the switch's tracker. The figure is the
//! growth of the switch process's resident memory (`VmRSS`) divided by
//! the growth of `dpctl/ct-get-nconns`.
//!
//! Sending is paced (the AF_PACKET rings drop what a switch cannot take
//! at once) and repeated for the tuples a pass lost (a datagram of an
//! existing connection changes nothing), at most [`PASSES`] times; each
//! pass also renews the connections it finds, so none expires between
//! passes.

use std::net::{SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::super::measure::udp_pps::in_netns;
use super::super::topology::{Topology, H1_ADDR, H2_ADDR};
use super::firewall::appctl;

pub const TARGET: u32 = 1_000_000;
const ADDRS: u32 = 16;
const PORTS: u32 = TARGET / ADDRS;
const PASSES: usize = 5;
const PPS: u64 = 100_000;
const BATCH: usize = 64;

pub struct FillFigure {
    pub bytes_per_conn: f64,
    pub conns: u64,
    pub rss_mib: f64,
}

pub fn measure(t: &Topology, dir: &Path, pid: u32) -> anyhow::Result<FillFigure> {
    t.exec(
        &t.h1,
        &["ip", "route", "replace", "198.18.1.0/24", "via", H2_ADDR],
    )?;
    appctl(dir, &["dpctl/ct-set-maxconns", "3000000"])?;
    appctl(dir, &["dpctl/flush-conntrack"])?;
    std::thread::sleep(Duration::from_millis(500));
    let n0 = nconns(dir)?;
    let rss0 = rss_bytes(pid)?;
    for _ in 0..PASSES {
        in_netns(&t.h1, send_all)?
            .join()
            .map_err(|_| anyhow::anyhow!("sender panicked"))??;
        std::thread::sleep(Duration::from_secs(1));
        if nconns(dir)? >= n0 + TARGET as u64 * 99 / 100 {
            break;
        }
    }
    let n1 = nconns(dir)?;
    let rss1 = rss_bytes(pid)?;
    appctl(dir, &["dpctl/flush-conntrack"])?;
    let added = n1.saturating_sub(n0);
    if added < TARGET as u64 / 2 {
        anyhow::bail!("only {added} connections committed of {TARGET}");
    }
    Ok(FillFigure {
        bytes_per_conn: rss1.saturating_sub(rss0) as f64 / added as f64,
        conns: added,
        rss_mib: rss1 as f64 / (1 << 20) as f64,
    })
}

fn nconns(dir: &Path) -> anyhow::Result<u64> {
    let out = appctl(dir, &["dpctl/ct-get-nconns"])?;
    out.trim()
        .parse()
        .with_context(|| format!("ct-get-nconns said {out:?}"))
}

fn rss_bytes(pid: u32) -> anyhow::Result<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: u64 = s
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .context("no VmRSS")?;
    Ok(kb * 1024)
}

/// One datagram to every (address, port) of the fill, paced at [`PPS`].
fn send_all() -> anyhow::Result<()> {
    let sock = UdpSocket::bind((H1_ADDR, 4999))?;
    let payload = [0u8; 18];
    let start = Instant::now();
    let mut sent = 0u64;
    let mut dests: Vec<libc::sockaddr_in> = Vec::with_capacity(BATCH);
    let mut iov = libc::iovec {
        iov_base: payload.as_ptr() as *mut libc::c_void,
        iov_len: payload.len(),
    };
    let all = (0..ADDRS).flat_map(|a| (0..PORTS).map(move |p| (a, p)));
    let tuples: Vec<(u32, u32)> = all.collect();
    for chunk in tuples.chunks(BATCH) {
        dests.clear();
        for &(a, p) in chunk {
            let d = SocketAddrV4::new([198, 18, 1, 1 + a as u8].into(), 1 + p as u16);
            dests.push(libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: d.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(*d.ip()).to_be(),
                },
                sin_zero: [0; 8],
            });
        }
        // SAFETY: mmsghdr is plain old data; zeroed is its empty value.
        let mut msgs: Vec<libc::mmsghdr> = (0..dests.len())
            .map(|_| unsafe { std::mem::zeroed() })
            .collect();
        for (m, d) in msgs.iter_mut().zip(dests.iter_mut()) {
            m.msg_hdr.msg_name = d as *mut libc::sockaddr_in as *mut libc::c_void;
            m.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            m.msg_hdr.msg_iov = &mut iov;
            m.msg_hdr.msg_iovlen = 1;
        }
        let mut off = 0;
        while off < msgs.len() {
            // SAFETY: the headers point at `dests` and `iov`/`payload`,
            // all alive for the call.
            let n = unsafe {
                libc::sendmmsg(
                    sock.as_raw_fd(),
                    msgs[off..].as_mut_ptr(),
                    (msgs.len() - off) as u32,
                    0,
                )
            };
            if n > 0 {
                off += n as usize;
            } else {
                std::thread::sleep(Duration::from_micros(100));
            }
        }
        sent += msgs.len() as u64;
        let due = Duration::from_micros(sent * 1_000_000 / PPS);
        if let Some(wait) = due.checked_sub(start.elapsed()) {
            std::thread::sleep(wait);
        }
    }
    Ok(())
}
