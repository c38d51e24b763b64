//! 64-byte UDP packets per second through one established connection:
//! host 1 sends a datagram, host 2 answers it (the reply makes the
//! connection `+est` in both trackers), then host 1 blasts and host 2
//! counts, with the sender and counter of the plain UDP figure
//! (`measure::udp_pps`). Every packet goes through `ct(table=1,zone=..)`,
//! a recirculation and the `+est` flow. The figure is the median of the
//! per-second counts after the first second.

use std::net::UdpSocket;
use std::time::Duration;

use anyhow::{bail, Context};

use super::super::measure::median;
use super::super::measure::udp_pps::{run_flow, whole_seconds};
use super::super::topology::Topology;

const PORT: u16 = 5304;

pub fn measure(t: &Topology, secs: u64) -> anyhow::Result<f64> {
    // Host 2 answers the opening datagram: the reply makes the
    // connection established.
    let answer = |sock: &UdpSocket| -> anyhow::Result<()> {
        sock.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut b = [0u8; 64];
        let (_, peer) = sock.recv_from(&mut b).context("no opening datagram")?;
        sock.send_to(b"reply", peer)?;
        Ok(())
    };
    let open = |sock: &UdpSocket| -> anyhow::Result<()> {
        sock.set_read_timeout(Some(Duration::from_secs(1)))?;
        let mut b = [0u8; 64];
        for _ in 0..5 {
            sock.send(b"open")?;
            if sock.recv(&mut b).is_ok() {
                return Ok(());
            }
        }
        bail!("the opening datagram was not answered through the firewall");
    };
    let (sent, per_sec) = run_flow(t, PORT, secs, answer, open)?;
    let samples = whole_seconds(&per_sec);
    if samples.iter().all(|&n| n == 0.0) {
        bail!("no packet of the established connection delivered (sent {sent})");
    }
    Ok(median(&samples).unwrap_or(0.0))
}
