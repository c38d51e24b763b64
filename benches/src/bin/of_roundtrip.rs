//! of_roundtrip: the OpenFlow request/reply round trip of any switch.
//!
//! What `ovs-ofctl add-flows` does per flow in OpenFlow 1.0, without its
//! text parsing: send a flow-mod (add), send a barrier request (two
//! writes, as ovs-ofctl makes them), wait for the barrier reply. The
//! messages are encoded once before the clock starts, so the time per
//! round trip is the switch's latency plus the socket and wakeup costs,
//! and the client's own CPU time per round trip is printed beside it: the
//! same bytes go to Debian's ovs-vswitchd and to ferrovs-vswitchd.
//!
//! `of_roundtrip --sock PATH [--n N] [--version 10|13]` adds N flows
//! (`ip,nw_dst=198.18.x.y` over 16 priorities, output:1) one round trip
//! each, then deletes every flow (one more round trip) and prints
//! `rt_us X` (wall time per round trip, µs) and `rt_cli_us Y` (the
//! client's user + system CPU per round trip, µs).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Instant;

use anyhow::{bail, Context};
use ferrovs_benches::of_workload::flow_mod;
use ferrovs_openflow::message::{FlowMod, FlowModCommand, Hello, Message};
use ferrovs_openflow::Version;

/// OFPT_ERROR (the same type in every version).
const OFPT_ERROR: u8 = 1;

struct Conn {
    s: UnixStream,
    buf: Vec<u8>,
    /// Bytes of `buf` holding data.
    len: usize,
}

impl Conn {
    /// Reads messages until the one with type `ty` and xid `xid`; fails
    /// on an OFPT_ERROR.
    fn wait_for(&mut self, ty: u8, xid: u32) -> anyhow::Result<()> {
        loop {
            let mut pos = 0;
            while self.len - pos >= 8 {
                let h = &self.buf[pos..pos + 8];
                let mlen = usize::from(u16::from_be_bytes([h[2], h[3]]));
                if mlen < 8 {
                    bail!("bad message length {mlen}");
                }
                if self.len - pos < mlen {
                    break;
                }
                let (mty, mxid) = (h[1], u32::from_be_bytes([h[4], h[5], h[6], h[7]]));
                pos += mlen;
                if mty == OFPT_ERROR {
                    bail!("OFPT_ERROR for xid {mxid}");
                }
                if mty == ty && mxid == xid {
                    self.buf.copy_within(pos..self.len, 0);
                    self.len -= pos;
                    return Ok(());
                }
            }
            self.buf.copy_within(pos..self.len, 0);
            self.len -= pos;
            if self.len == self.buf.len() {
                self.buf.resize(self.buf.len() * 2, 0);
            }
            let n = self.s.read(&mut self.buf[self.len..])?;
            if n == 0 {
                bail!("connection closed");
            }
            self.len += n;
        }
    }
}

fn cpu_us() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 * 1e6 + t.tv_usec as f64;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut sock = None;
    let mut n: u32 = 20_000;
    let mut v = Version::Of10;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().context("missing value");
        match a.as_str() {
            "--sock" => sock = Some(val()?.clone()),
            "--n" => n = val()?.parse()?,
            "--version" => {
                v = match val()?.as_str() {
                    "10" => Version::Of10,
                    "13" => Version::Of13,
                    o => bail!("version {o}: 10 or 13"),
                }
            }
            o => bail!("unknown argument {o}"),
        }
    }
    let sock = sock.context("--sock PATH")?;
    let mut c = Conn {
        s: UnixStream::connect(&sock).with_context(|| format!("connecting to {sock}"))?,
        buf: vec![0; 64 * 1024],
        len: 0,
    };
    c.s.write_all(&Message::Hello(Hello::offering(&[v])).encode(v, 1))?;
    let barrier_reply_ty = Message::BarrierReply.encode(v, 0)[1];
    // Each round trip: the flow-mod (xid 2i) and the barrier (xid 2i+1).
    let mut reqs = Vec::with_capacity(n as usize);
    for i in 0..n {
        let fm = Message::FlowMod(flow_mod(i)).encode(v, 2 * i + 2);
        let b = Message::BarrierRequest.encode(v, 2 * i + 3);
        reqs.push((fm, b));
    }
    let cpu0 = cpu_us();
    let t0 = Instant::now();
    for (i, (fm, b)) in reqs.iter().enumerate() {
        c.s.write_all(fm)?;
        c.s.write_all(b)?;
        c.wait_for(barrier_reply_ty, 2 * i as u32 + 3)?;
    }
    let wall = t0.elapsed().as_secs_f64() * 1e6;
    let cpu = cpu_us() - cpu0;
    let del = FlowMod {
        command: FlowModCommand::Delete,
        table_id: if v == Version::Of10 { 0 } else { 0xff },
        ..FlowMod::default()
    };
    c.s.write_all(&Message::FlowMod(del).encode(v, 1 << 30))?;
    c.s.write_all(&Message::BarrierRequest.encode(v, (1 << 30) + 1))?;
    c.wait_for(barrier_reply_ty, (1 << 30) + 1)?;
    println!("rt_us {:.2}", wall / f64::from(n.max(1)));
    println!("rt_cli_us {:.2}", cpu / f64::from(n.max(1)));
    Ok(())
}
