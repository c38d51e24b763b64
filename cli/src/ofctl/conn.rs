//! A blocking OpenFlow client on a bridge's management socket
//! (`RUNDIR/<bridge>.mgmt`, or `unix:PATH`): hello exchange offering
//! the versions allowed (`-O`), the highest one both sides support
//! chosen as ovs-ofctl's vconn does, then requests answered in order. Multipart replies are
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

/// `version 0x04` or `versions 0x04, 0x05`, as OVS's vconn words it.
fn version_list(bitmap: u32) -> String {
    let v: Vec<String> = (0..32)
        .filter(|i| bitmap & (1 << i) != 0)
        .map(|i| format!("{i:#04x}"))
        .collect();
    format!(
        "version{} {}",
        if v.len() == 1 { "" } else { "s" },
        v.join(", ")
    )
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
    /// Connects and negotiates: the highest of `versions` the switch
    /// also speaks (by its hello's bitmap, or every version up to its
    /// header's without one).
    pub fn open(path: &Path, versions: &[Version]) -> anyhow::Result<OfConn> {
        let sock = UnixStream::connect(path)
            .with_context(|| format!("{}: failed to connect to socket", path.display()))?;
        sock.set_read_timeout(Some(Duration::from_secs(30)))?;
        let ours: u32 = versions.iter().fold(0, |b, v| b | 1 << v.wire());
        let max = *versions
            .iter()
            .max()
            .context("no OpenFlow version allowed")?;
        let mut c = OfConn {
            sock,
            version: max,
            // ovs-ofctl's hello is xid 1, its first request 2.
            xid: 1,
            buf: Vec::new(),
        };
        let hello = Message::Hello(Hello {
            bitmap: Some(vec![ours]),
            other: Vec::new(),
        });
        c.sock.write_all(&hello.encode(max, 1))?;
        let (h, m) = c.recv()?;
        let Message::Hello(peer) = m else {
            bail!("{}: expected hello, got {m:?}", path.display());
        };
        let theirs = match peer.bitmap.as_ref().and_then(|b| b.first()) {
            Some(&w) => w,
            None => (2u32 << h.version.min(31)) - 2,
        };
        let common = ours & theirs;
        match versions
            .iter()
            .filter(|v| common & (1 << v.wire()) != 0)
            .max()
        {
            Some(&v) => c.version = v,
            None => bail!(
                "{}: version negotiation failed (we support {}, peer supports {})",
                path.display(),
                version_list(ours),
                version_list(theirs)
            ),
        }
        Ok(c)
    }

    /// The switch's ports as (name, number): from the port descriptions
    /// (1.3 on) or the features reply (1.0).
    pub fn port_names(&mut self) -> anyhow::Result<Vec<(String, u32)>> {
        use ferrovs_openflow::message::multipart::{MpReply, MpRequest, MultipartRequest};
        let mut out = Vec::new();
        if self.version >= Version::Of13 {
            let req = Message::MultipartRequest(MultipartRequest {
                flags: 0,
                body: MpRequest::PortDesc(ferrovs_openflow::port::OFPP_NONE),
            });
            for (_, m) in self.transact(&req)? {
                if let Message::MultipartReply(r) = m {
                    if let MpReply::PortDesc(list) = r.body {
                        out.extend(list.iter().map(|p| (p.name_str(), p.port_no as u32)));
                    }
                }
            }
        } else {
            for (_, m) in self.transact(&Message::FeaturesRequest)? {
                if let Message::FeaturesReply(f) = m {
                    out.extend(f.ports.iter().map(|p| (p.name_str(), p.port_no as u32)));
                }
            }
        }
        Ok(out)
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
