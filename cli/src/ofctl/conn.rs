//! A blocking OpenFlow client on a bridge's management socket
//! (`RUNDIR/<bridge>.mgmt`, or `unix:PATH`): hello exchange at one
//! version, then requests answered in order. Multipart replies are
//! collected until the last part; echo requests from the switch are
//! answered; an OFPT_ERROR reply to one of our requests becomes an error
//! naming it as ovs-ofctl prints it.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use ferrovs_openflow::message::{Header, Hello, Message, HEADER_LEN};
use ferrovs_openflow::Version;

pub struct OfConn {
    sock: UnixStream,
    pub version: Version,
    xid: u32,
    buf: Vec<u8>,
}

/// The socket of `target`: a path or `unix:PATH` as is, a bridge name
/// as `RUNDIR/NAME.mgmt`.
pub fn socket_of(rundir: &Path, target: &str) -> PathBuf {
    if let Some(p) = target.strip_prefix("unix:") {
        PathBuf::from(p)
    } else if target.contains('/') {
        PathBuf::from(target)
    } else {
        rundir.join(format!("{target}.mgmt"))
    }
}

impl OfConn {
    pub fn open(path: &Path, version: Version) -> anyhow::Result<OfConn> {
        let sock = UnixStream::connect(path)
            .with_context(|| format!("{}: failed to connect to socket", path.display()))?;
        sock.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut c = OfConn {
            sock,
            version,
            // ovs-ofctl's hello is xid 1, its first request 2.
            xid: 1,
            buf: Vec::new(),
        };
        let bitmap = 1u32 << version.wire();
        let hello = Message::Hello(Hello {
            bitmap: Some(vec![bitmap]),
            other: Vec::new(),
        });
        c.sock.write_all(&hello.encode(version, 1))?;
        let (h, m) = c.recv()?;
        let Message::Hello(peer) = m else {
            bail!("{}: expected hello, got {m:?}", path.display());
        };
        let ok = match &peer.bitmap {
            Some(b) => b.first().is_some_and(|w| w & bitmap != 0),
            None => h.version >= version.wire(),
        };
        if !ok {
            bail!(
                "{}: version negotiation failed (we support version {:#04x}, peer supports version {:#04x})",
                path.display(),
                version.wire(),
                h.version
            );
        }
        Ok(c)
    }

    fn recv(&mut self) -> anyhow::Result<(Header, Message)> {
        loop {
            if self.buf.len() >= HEADER_LEN {
                let len = u16::from_be_bytes([self.buf[2], self.buf[3]]) as usize;
                if len < HEADER_LEN {
                    bail!("bad OpenFlow message length {len}");
                }
                if self.buf.len() >= len {
                    let msg: Vec<u8> = self.buf.drain(..len).collect();
                    let (h, m) = Message::decode(&msg)
                        .map_err(|e| anyhow::anyhow!("undecodable message from the switch: {e}"))?;
                    if let Message::EchoRequest(d) = &m {
                        let r = Message::EchoReply(d.clone()).encode(self.version, h.xid);
                        self.sock.write_all(&r)?;
                        continue;
                    }
                    return Ok((h, m));
                }
            }
            let mut b = [0u8; 65536];
            let n = self.sock.read(&mut b).context("reading from the switch")?;
            if n == 0 {
                bail!("connection closed by the switch");
            }
            self.buf.extend_from_slice(&b[..n]);
        }
    }

    pub fn skip_xid(&mut self) {
        self.xid += 1;
    }

    /// Sends `m` and returns its xid.
    pub fn send(&mut self, m: &Message) -> anyhow::Result<u32> {
        self.xid += 1;
        let xid = self.xid;
        self.sock.write_all(&m.encode(self.version, xid))?;
        Ok(xid)
    }

    /// Sends `m`, then a barrier, and fails with the switch's error if
    /// `m` was refused.
    pub fn transact_noreply(&mut self, m: &Message) -> anyhow::Result<()> {
        let xid = self.send(m)?;
        let bxid = self.send(&Message::BarrierRequest)?;
        loop {
            let (h, r) = self.recv()?;
            if h.xid == xid {
                if let Message::Error(_) = r {
                    bail!(
                        "{}",
                        ferrovs_openflow::text::ofp_print::message(&h, &r).trim_end()
                    );
                }
            }
            if h.xid == bxid && matches!(r, Message::BarrierReply) {
                return Ok(());
            }
        }
    }

    /// Sends `m` and returns every reply with its xid (all parts of a
    /// multipart reply).
    pub fn transact(&mut self, m: &Message) -> anyhow::Result<Vec<(Header, Message)>> {
        let xid = self.send(m)?;
        let mut out = Vec::new();
        loop {
            let (h, r) = self.recv()?;
            if h.xid != xid {
                continue;
            }
            let more = match &r {
                Message::Error(_) => {
                    bail!(
                        "{}",
                        ferrovs_openflow::text::ofp_print::message(&h, &r).trim_end()
                    );
                }
                Message::MultipartReply(p) => p.flags & 1 != 0,
                _ => false,
            };
            out.push((h, r));
            if !more {
                return Ok(out);
            }
        }
    }
}
