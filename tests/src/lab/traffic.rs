//! Traffic probes between lab namespaces: ping, a TCP sink, a UDP echo
//! and FTP (a pyftpdlib server and Python's ftplib client), each
//! reporting what the far end saw (the peer address after NAT), so a
//! check can tell SNAT, DNAT and plain routing apart.
//!
//! Servers run as lab processes (torn down with the lab) and say `ready`
//! on stdout before the client starts; every wait is bounded.

use std::process::Command;
use std::sync::mpsc::Receiver;
use std::time::Duration;

use anyhow::{bail, ensure, Context};

use super::{ns_exec, Lab};

/// What a successful ping saw: average round trip and the reply's TTL.
pub struct Ping {
    pub rtt_ms: String,
    pub ttl: u8,
}

/// Pings `dst` from namespace `from` (3 echoes; up to 4 tries while ARP
/// and flows settle).
pub fn ping(from: &str, dst: &str) -> anyhow::Result<Ping> {
    let mut last = String::new();
    for _ in 0..4 {
        match ns_exec(from, &["ping", "-c", "3", "-i", "0.2", "-W", "1", dst]) {
            Ok(out) => {
                let rtt_ms = avg_rtt(&out).to_string();
                let ttl = out
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("ttl="))
                    .and_then(|t| t.parse().ok())
                    .context("no ttl= in ping output")?;
                return Ok(Ping { rtt_ms, ttl });
            }
            Err(e) => last = e.to_string(),
        }
    }
    bail!("no reply: {last}")
}

/// Pings `dst` from namespace `from` (3 echoes; up to 6 tries while ARP
/// and flows settle); says `rtt AVG ms`.
pub fn ping_rtt(from: &str, dst: &str) -> anyhow::Result<String> {
    let mut last = String::new();
    for _ in 0..6 {
        match ns_exec(
            from,
            &["ping", "-c", "3", "-i", "0.2", "-W", "1", "-q", dst],
        ) {
            Ok(out) => return Ok(format!("rtt {} ms", avg_rtt(&out))),
            Err(e) => last = e.to_string(),
        }
    }
    bail!("no reply: {last}")
}

/// The average of ping's `rtt min/avg/max/mdev = ...` line, `?` without it.
fn avg_rtt(out: &str) -> &str {
    out.lines()
        .find(|l| l.contains("min/avg"))
        .and_then(|l| l.split('=').nth(1))
        .and_then(|v| v.trim().split('/').nth(1))
        .unwrap_or("?")
}

fn wait_ready(rx: &Receiver<String>, what: &str) -> anyhow::Result<()> {
    match rx.recv_timeout(Duration::from_secs(15)) {
        Ok(l) if l == "ready" => Ok(()),
        Ok(l) => bail!("{what} said {l:?}"),
        Err(_) => bail!("{what} did not start"),
    }
}

fn spawn_py(lab: &mut Lab, ns: &str, py: &str, args: &[&str]) -> anyhow::Result<Receiver<String>> {
    lab.spawn_lines(
        Command::new(crate::tool("ip"))
            .args(["netns", "exec", ns, "python3", "-c", py])
            .args(args),
    )
}

/// TCP: `from` sends 1 MB to `dst:port`, served by a sink in `sink_ns`;
/// returns the peer address the sink saw.
pub fn tcp(
    lab: &mut Lab,
    sink_ns: &str,
    from: &str,
    dst: &str,
    port: u16,
) -> anyhow::Result<String> {
    let py = "import socket,sys\n\
              s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n\
              s.bind(('0.0.0.0',int(sys.argv[1]))); s.listen(1); s.settimeout(20); print('ready',flush=True)\n\
              c,a=s.accept(); c.settimeout(10); n=0\n\
              while True:\n\
              \x20 b=c.recv(65536)\n\
              \x20 if not b: break\n\
              \x20 n+=len(b)\n\
              print(a[0],n,flush=True)\n";
    let rx = spawn_py(lab, sink_ns, py, &[&port.to_string()])?;
    wait_ready(&rx, "TCP sink")?;
    let cli = format!(
        "import socket\ns=socket.create_connection(('{dst}',{port}),timeout=5)\ns.sendall(b'x'*1000000); s.close()\n"
    );
    ns_exec(from, &["timeout", "20", "python3", "-c", &cli])?;
    let line = rx
        .recv_timeout(Duration::from_secs(10))
        .context("sink saw nothing")?;
    let (peer, n) = line.split_once(' ').unwrap_or(("", "0"));
    ensure!(n == "1000000", "sink got {n} bytes");
    Ok(peer.to_string())
}

/// UDP: `from` sends a datagram to `dst:port`, an echo server in
/// `echo_ns` answers with the address it saw; the client must get that
/// answer back (so the reply direction is un-NATed too). Returns the
/// address the server saw.
pub fn udp(
    lab: &mut Lab,
    echo_ns: &str,
    from: &str,
    dst: &str,
    port: u16,
) -> anyhow::Result<String> {
    let py = "import socket,sys\n\
              s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n\
              s.bind(('0.0.0.0',int(sys.argv[1]))); s.settimeout(20); print('ready',flush=True)\n\
              b,a=s.recvfrom(2048); s.sendto(a[0].encode(),a); print(a[0],flush=True)\n\
              s.settimeout(3)\n\
              while True:\n\
              \x20 b,a=s.recvfrom(2048); s.sendto(a[0].encode(),a)\n";
    let rx = spawn_py(lab, echo_ns, py, &[&port.to_string()])?;
    wait_ready(&rx, "UDP echo")?;
    let cli = format!(
        "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.settimeout(1)\n\
         for i in range(5):\n\
         \x20 s.sendto(b'probe',('{dst}',{port}))\n\
         \x20 try:\n\
         \x20   print(s.recvfrom(2048)[0].decode()); break\n\
         \x20 except socket.timeout: pass\n\
         else:\n\
         \x20 raise SystemExit('no UDP reply')\n"
    );
    let got = ns_exec(from, &["timeout", "20", "python3", "-c", &cli])?;
    let seen = rx
        .recv_timeout(Duration::from_secs(5))
        .context("echo server saw nothing")?;
    ensure!(
        got.trim() == seen,
        "client got {:?}, server saw {seen}",
        got.trim()
    );
    Ok(seen)
}

/// Size of the file the FTP server offers.
const FTP_FILE_BYTES: usize = 300_000;

/// How an FTP client opens its data connection.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FtpMode {
    /// PORT: the server connects back to the address the client names.
    Active,
    /// PASV: the client connects to the address in the server's 227 reply
    /// (taken as given, not replaced by the control peer's address).
    Passive,
}

/// FTP: a pyftpdlib server on port 21 of `server_ns` (anonymous, one
/// file; refusing data connections to any address but the control
/// connection's peer, as FTP servers do), and an ftplib client in `from`
/// fetching the file from `dst` in `mode`. Returns the control peer the
/// server saw and the bytes fetched.
pub fn ftp(
    lab: &mut Lab,
    server_ns: &str,
    from: &str,
    dst: &str,
    mode: FtpMode,
) -> anyhow::Result<String> {
    let root = lab.dir().join(format!("ftp-{server_ns}"));
    std::fs::create_dir_all(&root)?;
    let data: Vec<u8> = (0..FTP_FILE_BYTES).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(root.join("data.bin"), &data)?;
    let py = "import sys,logging\n\
              from pyftpdlib.authorizers import DummyAuthorizer\n\
              from pyftpdlib.handlers import FTPHandler\n\
              from pyftpdlib.servers import FTPServer\n\
              logging.disable(logging.CRITICAL)\n\
              a=DummyAuthorizer(); a.add_anonymous(sys.argv[1])\n\
              import time; done=[time.time()+45]\n\
              class H(FTPHandler):\n\
              \x20 def on_login(self,u): print('peer',self.remote_ip,flush=True)\n\
              \x20 def on_disconnect(self): done[0]=0\n\
              H.authorizer=a; H.timeout=30\n\
              s=FTPServer(('0.0.0.0',21),H); print('ready',flush=True)\n\
              while time.time()<done[0]: s.serve_forever(timeout=0.2,blocking=False,handle_exit=False)\n\
              s.close_all()\n";
    let rx = spawn_py(lab, server_ns, py, &[&root.display().to_string()])?;
    wait_ready(&rx, "FTP server (python3 -m pip install pyftpdlib)")?;
    let pasv = if mode == FtpMode::Passive {
        "True"
    } else {
        "False"
    };
    let cli = format!(
        "import ftplib\n\
         f=ftplib.FTP(timeout=8); f.connect('{dst}',21); f.login()\n\
         f.trust_server_pasv_ipv4_address=True; f.set_pasv({pasv})\n\
         b=bytearray(); f.retrbinary('RETR data.bin',b.extend); f.quit(); print(len(b))\n"
    );
    let out = ns_exec(from, &["timeout", "30", "python3", "-c", &cli]);
    let peer = rx
        .recv_timeout(Duration::from_secs(2))
        .ok()
        .and_then(|l| l.strip_prefix("peer ").map(String::from))
        .unwrap_or_else(|| "?".into());
    let out = out.with_context(|| format!("server saw control peer {peer}"))?;
    let n: usize = out.trim().parse().unwrap_or(0);
    ensure!(n == FTP_FILE_BYTES, "fetched {n} of {FTP_FILE_BYTES} bytes");
    Ok(peer)
}
