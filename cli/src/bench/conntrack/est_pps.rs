//! 64-byte UDP packets per second through one established connection:
//! host 1 sends a datagram, host 2 answers it (the reply makes the
//! connection `+est` in both trackers), then host 1 blasts and host 2
//! counts, with the sender and counter of the plain UDP figure
//! (`measure::udp_pps`). Every packet goes through `ct(table=1,zone=..)`,
//! a recirculation and the `+est` flow. The figure is the median of the
//! per-second counts after the first second.

use std::net::UdpSocket;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};

use super::super::measure::median;
use super::super::measure::udp_pps::{blast, count, in_netns, run_for, set_rcvbuf, whole_seconds};
use super::super::topology::{Topology, H1_ADDR, H2_ADDR};

const PORT: u16 = 5304;

pub fn measure(t: &Topology, secs: u64) -> anyhow::Result<f64> {
    let stop = Arc::new(AtomicBool::new(false));
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let s = stop.clone();
    let counter = in_netns(&t.h2, move || {
        let sock = UdpSocket::bind((H2_ADDR, PORT))?;
        set_rcvbuf(&sock, 8 << 20);
        sock.set_read_timeout(Some(Duration::from_secs(10)))?;
        let _ = ready_tx.send(());
        let mut b = [0u8; 64];
        let (_, peer) = sock.recv_from(&mut b).context("no opening datagram")?;
        sock.send_to(b"reply", peer)?;
        sock.set_read_timeout(Some(Duration::from_millis(50)))?;
        count(&sock, &s)
    })?;
    ready_rx
        .recv_timeout(Duration::from_secs(5))
        .context("counter did not start")?;
    let s = stop.clone();
    let blaster = in_netns(&t.h1, move || {
        let sock = UdpSocket::bind((H1_ADDR, 0))?;
        sock.connect((H2_ADDR, PORT))?;
        sock.set_read_timeout(Some(Duration::from_secs(1)))?;
        let mut b = [0u8; 64];
        let mut answered = false;
        for _ in 0..5 {
            sock.send(b"open")?;
            if sock.recv(&mut b).is_ok() {
                answered = true;
                break;
            }
        }
        if !answered {
            bail!("the opening datagram was not answered through the firewall");
        }
        blast(&sock, &s)
    })?;
    let (sent, per_sec) = run_for(secs, &stop, blaster, counter)?;
    let samples = whole_seconds(&per_sec);
    if samples.iter().all(|&n| n == 0.0) {
        bail!("no packet of the established connection delivered (sent {sent})");
    }
    Ok(median(&samples).unwrap_or(0.0))
}
