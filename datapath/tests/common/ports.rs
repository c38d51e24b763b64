//! Shared support for the real-port tests: two namespaces ("hosts"), each
//! joined to the root namespace by a veth (or a tap) whose outer end is a
//! datapath port, and a forwarding loop that moves every packet from one
//! port to the other. Everything is removed on drop (namespaces, links,
//! the forwarding thread).

use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ferrovs_datapath::batch::PacketBatch;
use ferrovs_datapath::netdev::Netdev;
use ferrovs_datapath::packet::PacketPool;
use ferrovs_tests::{Netns, Veth};

pub const IP1: &str = "198.18.0.1";
pub const IP2: &str = "198.18.0.2";
pub const IP6_1: &str = "2001:db8::1";
pub const IP6_2: &str = "2001:db8::2";

/// One host: a namespace and the link whose inside end has the addresses.
pub struct Host {
    pub ns: Netns,
    /// Name of the interface inside the namespace.
    pub ifname: String,
    /// The veth, when the host is attached by one (its outer end is `a`).
    pub veth: Option<Veth>,
}

fn sh(args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new(args[0]).args(&args[1..]).output()?;
    anyhow::ensure!(
        out.status.success(),
        "{}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

fn address(ns: &Netns, ifname: &str, v4: &str, v6: &str) -> anyhow::Result<()> {
    ns.exec(&["ip", "addr", "add", &format!("{v4}/24"), "dev", ifname])?;
    ns.exec(&[
        "ip",
        "-6",
        "addr",
        "add",
        &format!("{v6}/64"),
        "dev",
        ifname,
        "nodad",
    ])?;
    ns.exec(&["ip", "link", "set", ifname, "up"])?;
    Ok(())
}

impl Host {
    /// A host behind a veth: the outer end stays in the root namespace
    /// (IPv6 off there, so the host stack sends nothing on it).
    pub fn veth(tag: &str, v4: &str, v6: &str) -> anyhow::Result<Host> {
        let ns = Netns::new(tag)?;
        let veth = Veth::new(tag)?;
        let _ = std::fs::write(
            format!("/proc/sys/net/ipv6/conf/{}/disable_ipv6", veth.a),
            "1",
        );
        sh(&["ip", "link", "set", &veth.b, "netns", ns.name()])?;
        address(&ns, &veth.b, v4, v6)?;
        Ok(Host {
            ifname: veth.b.clone(),
            ns,
            veth: Some(veth),
        })
    }

    /// A host whose interface is the tap device `tap` (already opened by
    /// a port), moved into the namespace.
    pub fn tap(tag: &str, tap: &str, v4: &str, v6: &str) -> anyhow::Result<Host> {
        let ns = Netns::new(tag)?;
        sh(&["ip", "link", "set", tap, "netns", ns.name()])?;
        address(&ns, tap, v4, v6)?;
        Ok(Host {
            ifname: tap.to_string(),
            ns,
            veth: None,
        })
    }

    /// The outer end of the host's veth (the name a port opens).
    pub fn outer(&self) -> &str {
        &self.veth.as_ref().expect("veth host").a
    }

    /// Runs `f` on a thread inside the namespace.
    pub fn spawn<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> JoinHandle<T> {
        let path = format!("/var/run/netns/{}", self.ns.name());
        std::thread::spawn(move || {
            let ns = File::open(&path).expect("open netns");
            // SAFETY: setns on this thread only, with a valid descriptor.
            let r = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(r, 0, "setns: {}", std::io::Error::last_os_error());
            f()
        })
    }
}

/// What the forwarding loop moved.
#[derive(Debug, Default, Clone, Copy)]
pub struct FwdStats {
    pub a_to_b: u64,
    pub b_to_a: u64,
    pub sent: u64,
    /// CPU time the forwarding thread used.
    pub cpu: Duration,
}

/// CPU time used by the calling thread.
pub fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// A thread moving every packet received on one port to the other,
/// sleeping in `poll` on the ports' receive descriptors when idle.
pub struct Forwarder {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<FwdStats>>,
}

impl Forwarder {
    pub fn start(a: Arc<dyn Netdev>, b: Arc<dyn Netdev>) -> Forwarder {
        Self::start_with(a, b, true)
    }

    /// `sleep`: false keeps polling when idle (a busy PMD), true sleeps on
    /// the receive descriptors after 64 empty polls.
    pub fn start_with(a: Arc<dyn Netdev>, b: Arc<dyn Netdev>, sleep: bool) -> Forwarder {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut pool = PacketPool::new(1024);
            let mut batch = PacketBatch::new();
            let mut out = Vec::with_capacity(64);
            let mut st = FwdStats::default();
            let mut idle = 0u32;
            let fds: Vec<_> = [a.rx_fd(0), b.rx_fd(0)].into_iter().flatten().collect();
            while !s.load(Ordering::Relaxed) {
                let mut moved = 0;
                for (from, to, dir) in [(&a, &b, 0), (&b, &a, 1)] {
                    let n = from.recv(0, 1, &mut batch, &mut pool).unwrap_or(0);
                    if n == 0 {
                        continue;
                    }
                    moved += n;
                    if dir == 0 {
                        st.a_to_b += n as u64;
                    } else {
                        st.b_to_a += n as u64;
                    }
                    out.extend(batch.drain());
                    st.sent += to.send(0, &mut out, &mut pool).unwrap_or(0) as u64;
                    out.clear();
                }
                if moved > 0 {
                    idle = 0;
                    continue;
                }
                idle += 1;
                if sleep && idle > 64 && !a.tx_pending() && !b.tx_pending() {
                    wait_readable(&fds, 2);
                }
            }
            st.cpu = thread_cpu();
            st
        });
        Forwarder {
            stop,
            handle: Some(handle),
        }
    }

    pub fn stop(mut self) -> FwdStats {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.take().unwrap().join().unwrap()
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Sleeps until one of `fds` is readable or `ms` pass (a short sleep when
/// there is no descriptor to wait on).
pub fn wait_readable(fds: &[i32], ms: i32) {
    if fds.is_empty() {
        std::thread::sleep(Duration::from_micros(50));
        return;
    }
    let mut p: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // SAFETY: `p` is a valid array of pollfd of the length passed.
    unsafe {
        libc::poll(p.as_mut_ptr(), p.len() as u64, ms);
    }
}

/// `ping` from `from` to `dst` (IPv4 or IPv6): three echoes must come back.
pub fn ping(from: &Host, dst: &str) -> anyhow::Result<()> {
    let ping = ferrovs_tests::tool("ping");
    let p = ping.to_str().unwrap();
    let out = from
        .ns
        .exec(&[p, "-c", "3", "-i", "0.2", "-W", "2", "-w", "10", dst])?;
    anyhow::ensure!(out.contains(" 0% packet loss"), "ping {dst}: {out}");
    Ok(())
}

/// Deterministic pseudo-random bytes (xorshift), the same on both ends.
pub struct Pattern(u64);

impl Pattern {
    pub fn new(seed: u64) -> Pattern {
        Pattern(seed | 1)
    }
    pub fn fill(&mut self, buf: &mut [u8]) {
        for c in buf.chunks_mut(8) {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            let b = self.0.to_le_bytes();
            c.copy_from_slice(&b[..c.len()]);
        }
    }
}

/// Sends `total` bytes of a known pattern over TCP from `h1` to `h2`
/// (port `port`) and checks that every byte arrives intact and in order.
/// Returns the throughput in bits per second.
pub fn tcp_transfer(
    h1: &Host,
    h2: &Host,
    dst: &str,
    port: u16,
    total: usize,
) -> anyhow::Result<f64> {
    use std::io::{Read, Write};
    let (tx, rx) = std::sync::mpsc::channel();
    let bind = format!("{dst}:{port}");
    let server = h2.spawn(move || -> anyhow::Result<usize> {
        let l = std::net::TcpListener::bind(&bind)?;
        tx.send(()).ok();
        let (mut s, _) = l.accept()?;
        s.set_read_timeout(Some(Duration::from_secs(20)))?;
        let mut pat = Pattern::new(0x5eed);
        let mut buf = vec![0u8; 1 << 16];
        let mut want = vec![0u8; 1 << 16];
        let mut got = 0usize;
        // Compare in 8-byte aligned pieces so the pattern stays in step.
        let mut pending: Vec<u8> = Vec::new();
        loop {
            let n = s.read(&mut buf)?;
            if n == 0 {
                break;
            }
            pending.extend_from_slice(&buf[..n]);
            let whole = pending.len() / 8 * 8;
            if whole > 0 {
                let k = whole.min(want.len());
                pat.fill(&mut want[..k]);
                anyhow::ensure!(pending[..k] == want[..k], "corrupt bytes near offset {got}");
                got += k;
                pending.drain(..k);
            }
        }
        if !pending.is_empty() {
            pat.fill(&mut want[..8]);
            anyhow::ensure!(pending[..] == want[..pending.len()], "corrupt tail");
            got += pending.len();
        }
        Ok(got)
    });
    rx.recv_timeout(Duration::from_secs(5))?;
    let addr = format!("{dst}:{port}");
    let client = h1.spawn(move || -> anyhow::Result<Duration> {
        let t0 = Instant::now();
        let mut s = std::net::TcpStream::connect_timeout(&addr.parse()?, Duration::from_secs(5))?;
        s.set_write_timeout(Some(Duration::from_secs(20)))?;
        let mut pat = Pattern::new(0x5eed);
        let mut buf = vec![0u8; 1 << 16];
        let mut sent = 0;
        while sent < total {
            let k = (total - sent).min(buf.len());
            pat.fill(&mut buf[..k]);
            s.write_all(&buf[..k])?;
            sent += k;
        }
        s.shutdown(std::net::Shutdown::Write)?;
        let mut rest = [0u8; 1];
        let _ = s.read(&mut rest);
        Ok(t0.elapsed())
    });
    let dt = client
        .join()
        .map_err(|_| anyhow::anyhow!("client panicked"))??;
    let got = server
        .join()
        .map_err(|_| anyhow::anyhow!("server panicked"))??;
    anyhow::ensure!(got == total, "received {got} of {total} bytes");
    Ok(total as f64 * 8.0 / dt.as_secs_f64())
}

/// Sends `n` UDP datagrams of `size` bytes from `h1` to `h2` and returns
/// how many arrived with the right content (a datagram with a bad
/// checksum is dropped by the receiving stack, so it does not count).
pub fn udp_exchange(
    h1: &Host,
    h2: &Host,
    dst: &str,
    port: u16,
    n: usize,
    size: usize,
) -> anyhow::Result<usize> {
    let (tx, rx) = std::sync::mpsc::channel();
    let bind = format!("{dst}:{port}");
    let server = h2.spawn(move || -> anyhow::Result<usize> {
        let s = std::net::UdpSocket::bind(&bind)?;
        tx.send(()).ok();
        s.set_read_timeout(Some(Duration::from_millis(1500)))?;
        let mut buf = vec![0u8; 65536];
        let mut ok = 0;
        while let Ok(k) = s.recv(&mut buf) {
            let i = buf[0] as usize;
            if k == size
                && buf[..k]
                    .iter()
                    .enumerate()
                    .all(|(j, &b)| b == ((i + j) % 251) as u8)
            {
                ok += 1;
            }
            if ok == n {
                break;
            }
        }
        Ok(ok)
    });
    rx.recv_timeout(Duration::from_secs(5))?;
    let addr = format!("{dst}:{port}");
    let client = h1.spawn(move || -> anyhow::Result<()> {
        let bind = if addr.starts_with('[') {
            "[::]:0"
        } else {
            "0.0.0.0:0"
        };
        let s = std::net::UdpSocket::bind(bind)?;
        for i in 0..n {
            let i = i % 251;
            let d: Vec<u8> = (0..size).map(|j| ((i + j) % 251) as u8).collect();
            s.send_to(&d, &addr)?;
            std::thread::sleep(Duration::from_millis(2));
        }
        Ok(())
    });
    client
        .join()
        .map_err(|_| anyhow::anyhow!("client panicked"))??;
    server
        .join()
        .map_err(|_| anyhow::anyhow!("server panicked"))?
}

/// An iperf3 TCP run from `h1` to `h2` for `secs` seconds: bits per
/// second received and bytes received.
pub fn iperf3(h1: &Host, h2: &Host, dst: &str, secs: u32) -> anyhow::Result<(f64, u64)> {
    let iperf = ferrovs_tests::tool("iperf3");
    let mut cmd = Command::new(ferrovs_tests::tool("ip"));
    cmd.args(["netns", "exec", h2.ns.name()])
        .arg(&iperf)
        .args(["-s", "-1", "-B", dst, "-p", "5201"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let _server = ferrovs_tests::Child(cmd.spawn()?);
    std::thread::sleep(Duration::from_millis(400));
    let out = h1.ns.exec(&[
        iperf.to_str().unwrap(),
        "-c",
        dst,
        "-p",
        "5201",
        "-t",
        &secs.to_string(),
        "-J",
    ])?;
    let v: serde_json::Value = serde_json::from_str(&out)?;
    let recv = &v["end"]["sum_received"];
    let bps = recv["bits_per_second"].as_f64().unwrap_or(0.0);
    let bytes = recv["bytes"].as_u64().unwrap_or(0);
    Ok((bps, bytes))
}
