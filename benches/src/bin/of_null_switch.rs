//! of_null_switch: the fastest switch an OpenFlow client could talk to.
//!
//! It keeps no state and forwards nothing: it answers every request at
//! once with the smallest well-formed reply (a barrier reply, an echo
//! reply, a features reply with no ports, an empty multipart reply, a
//! bundle reply) and ignores everything else (flow-mods, bundle adds,
//! Nicira settings). The thread of the newest connection spins on its
//! socket while the client is active, so the client never waits for the
//! switch to wake up.
//!
//! Run beside a real switch, the same `ovs-ofctl` command against it
//! measures the client's floor: the time that command takes with a switch
//! that costs nothing. OVS's time divided by this floor is about the
//! largest speed-up any switch can show against OVS with that client
//! (`benches/scripts/ofproto-flows-compare.sh` prints it). It is not a
//! strict bound for short commands: the spinning thread shares a small
//! machine's CPUs with the client, and a switch that answers as fast
//! without spinning can finish a `del-flows` a few milliseconds sooner.
//!
//! Every `ovs-ofctl` command that reads table names first asks for the
//! table features, and parsing a real switch's answer (OVS and ferrovs
//! describe 254 tables with all their properties) is most of the fixed cost
//! of a short command such as `del-flows`. With `--like SOCK` the null
//! switch first asks the switch at SOCK for its table features and port
//! descriptions in OpenFlow 1.3, 1.4 and 1.5 and answers clients of those
//! versions with the same bytes, so the floor includes the parsing any
//! real switch costs its client. Without it, it describes one table and
//! no ports.
//!
//! `of_null_switch --sock PATH [--like SOCK]`: listens on the unix socket
//! PATH until killed; each connection gets its own thread.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// A connection silent this long stops spinning and blocks in `read`: a
/// client in the middle of a command answers within it, and one that went
/// off to parse a long reply should not find its CPU taken by a spinner.
const SPIN_FOR: Duration = Duration::from_micros(100);

/// The newest connection: only it spins. `ovs-ofctl` opens one connection
/// after another (table features, port descriptions, then the command's
/// own), and on a small machine older connections spinning beside it
/// would take the client's CPU.
static NEWEST: AtomicU64 = AtomicU64::new(0);

const HELLO: u8 = 0;
const ECHO_REQUEST: u8 = 2;
const ECHO_REPLY: u8 = 3;
const FEATURES_REQUEST: u8 = 5;
const FEATURES_REPLY: u8 = 6;
const GET_CONFIG_REQUEST: u8 = 7;
const GET_CONFIG_REPLY: u8 = 8;
/// OFPT_STATS_REQUEST (1.0) / OFPT_MULTIPART_REQUEST (1.3+).
const fn multipart_request(v: u8) -> u8 {
    if v == 1 {
        16
    } else {
        18
    }
}
const fn barrier_request(v: u8) -> u8 {
    if v == 1 {
        18
    } else {
        20
    }
}
/// OFPT_BUNDLE_CONTROL (1.4+); the reply has the same message type.
const BUNDLE_CONTROL: u8 = 33;
/// Multipart kinds whose replies need a body: OFPMP_DESC, OFPMP_AGGREGATE
/// and OFPMP_TABLE_FEATURES (1.3+: at least one table).
const MP_DESC: u16 = 0;
const MP_AGGREGATE: u16 = 2;
const MP_TABLE_FEATURES: u16 = 12;
/// OFPMP_PORT_DESC (1.3+), recorded with `--like`.
const MP_PORT_DESC: u16 = 13;

/// A message of version `v`, type `ty`, transaction `xid` and `body`.
fn msg(v: u8, ty: u8, xid: &[u8], body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(8 + body.len());
    m.extend_from_slice(&[v, ty]);
    m.extend_from_slice(&((8 + body.len()) as u16).to_be_bytes());
    m.extend_from_slice(xid);
    m.extend_from_slice(body);
    m
}

/// Multipart replies recorded from a real switch, by version and
/// multipart kind: each a sequence of whole messages.
type Recorded = HashMap<(u8, u16), Vec<Vec<u8>>>;

/// The reply to request `m` (one whole message), if it gets one.
fn answer(m: &[u8], rec: &Recorded) -> Option<Vec<u8>> {
    let (v, ty, xid, body) = (m[0], m[1], &m[4..8], &m[8..]);
    if v >= 4 && ty == multipart_request(v) && body.len() >= 2 {
        if let Some(msgs) = rec.get(&(v, u16::from_be_bytes([body[0], body[1]]))) {
            // The same bytes, with the client's xid.
            let mut out = Vec::new();
            for r in msgs {
                let at = out.len();
                out.extend_from_slice(r);
                out[at + 4..at + 8].copy_from_slice(xid);
            }
            return Some(out);
        }
    }
    match ty {
        // Offer the client's own version: it is the one negotiated.
        HELLO => Some(msg(v, HELLO, xid, &[])),
        ECHO_REQUEST => Some(msg(v, ECHO_REPLY, xid, body)),
        FEATURES_REQUEST => {
            // datapath_id, n_buffers, n_tables, 3 bytes (1.0: pad; 1.3+:
            // auxiliary_id and pad), capabilities, actions/reserved.
            let mut b = vec![0u8; 24];
            b[7] = 1;
            b[12] = 254;
            Some(msg(v, FEATURES_REPLY, xid, &b))
        }
        GET_CONFIG_REQUEST => Some(msg(v, GET_CONFIG_REPLY, xid, &[0, 0, 0xff, 0xff])),
        t if t == barrier_request(v) => Some(msg(v, t + 1, xid, &[])),
        t if t == multipart_request(v) && body.len() >= 2 => {
            let kind = u16::from_be_bytes([body[0], body[1]]);
            // type, flags (no "more"), and in 1.3+ four bytes of pad.
            let mut b = body[..2].to_vec();
            b.extend_from_slice(&[0, 0]);
            if v != 1 {
                b.extend_from_slice(&[0; 4]);
            }
            match kind {
                MP_DESC => b.resize(b.len() + 1056, 0),
                MP_AGGREGATE => b.resize(b.len() + 24, 0),
                // One table (0, unnamed): length, table_id, pad, name,
                // metadata match and write, capabilities, max_entries,
                // then the eight required properties (instructions, next
                // tables, write and apply actions, match, wildcards,
                // write and apply set-field), each empty (type, length 4,
                // padding to 8).
                MP_TABLE_FEATURES if v != 1 => {
                    let at = b.len();
                    b.resize(at + 64, 0);
                    for prop in (0u8..16).step_by(2) {
                        b.extend_from_slice(&[0, prop, 0, 4, 0, 0, 0, 0]);
                    }
                    b[at + 1] = (b.len() - at) as u8;
                }
                _ => {}
            }
            Some(msg(v, t + 1, xid, &b))
        }
        BUNDLE_CONTROL if v >= 5 && body.len() >= 8 => {
            // bundle_id, type + 1 (the reply to each request type), flags.
            let mut b = body[..8].to_vec();
            let kind = u16::from_be_bytes([b[4], b[5]]) + 1;
            b[4..6].copy_from_slice(&kind.to_be_bytes());
            Some(msg(v, BUNDLE_CONTROL, xid, &b))
        }
        _ => None,
    }
}

fn serve(mut s: UnixStream, id: u64, rec: &Recorded) -> anyhow::Result<()> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut len = 0usize;
    let mut out = Vec::new();
    let mut last = Instant::now();
    let mut spinning = true;
    loop {
        if len == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let n = match s.read(&mut buf[len..]) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                if last.elapsed() > SPIN_FOR || NEWEST.load(Relaxed) != id {
                    s.set_nonblocking(false)?;
                    spinning = false;
                }
                continue;
            }
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        if !spinning {
            s.set_nonblocking(true)?;
            spinning = true;
        }
        last = Instant::now();
        len += n;
        let mut pos = 0;
        while len - pos >= 8 {
            let mlen = usize::from(u16::from_be_bytes([buf[pos + 2], buf[pos + 3]]));
            if mlen < 8 {
                bail!("bad message length {mlen}");
            }
            if len - pos < mlen {
                break;
            }
            if let Some(r) = answer(&buf[pos..pos + mlen], rec) {
                out.extend_from_slice(&r);
            }
            pos += mlen;
        }
        buf.copy_within(pos..len, 0);
        len -= pos;
        if !out.is_empty() {
            // Replies are small; a blocking write keeps this simple.
            s.set_nonblocking(false)?;
            s.write_all(&out)?;
            s.set_nonblocking(true)?;
            out.clear();
        }
    }
}

/// Reads whole messages from `s` until `done` says the last one came.
fn read_until(s: &mut UnixStream, mut done: impl FnMut(&[u8]) -> bool) -> anyhow::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            bail!("the switch closed the connection");
        }
        buf.extend_from_slice(&chunk[..n]);
        while buf.len() >= 8 {
            let len = usize::from(u16::from_be_bytes([buf[2], buf[3]]));
            if len < 8 {
                bail!("bad message length {len}");
            }
            if buf.len() < len {
                break;
            }
            let m: Vec<u8> = buf.drain(..len).collect();
            if done(&m) {
                return Ok(());
            }
        }
    }
}

/// Records the table features and port descriptions of the switch at
/// `sock`, in OpenFlow 1.3, 1.4 and 1.5 (the port description's layout
/// differs between them).
fn record(sock: &str) -> anyhow::Result<Recorded> {
    let mut rec = Recorded::new();
    for v in [4u8, 5, 6] {
        let mut s = UnixStream::connect(sock).with_context(|| format!("connecting to {sock}"))?;
        s.write_all(&msg(v, HELLO, &[0, 0, 0, 1], &[]))?;
        read_until(&mut s, |m| m[1] == HELLO)?;
        for (xid, kind) in [(2u8, MP_TABLE_FEATURES), (3, MP_PORT_DESC)] {
            let mut body = kind.to_be_bytes().to_vec();
            body.extend_from_slice(&[0; 6]);
            if v == 6 && kind == MP_PORT_DESC {
                // 1.5 asks for one port or, as here, OFPP_ANY.
                body.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
            }
            s.write_all(&msg(v, multipart_request(v), &[0, 0, 0, xid], &body))?;
            let mut msgs = Vec::new();
            read_until(&mut s, |m| {
                if m[1] == 1 {
                    return true; // OFPT_ERROR: nothing recorded.
                }
                if m[1] != multipart_request(v) + 1 || m[7] != xid {
                    return false;
                }
                msgs.push(m.to_vec());
                // No OFPMPF_REPLY_MORE: the last part.
                m.len() < 12 || m[11] & 1 == 0
            })?;
            if !msgs.is_empty() {
                rec.insert((v, kind), msgs);
            }
        }
    }
    Ok(rec)
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (sock, like) = match args.as_slice() {
        [flag, path] if flag == "--sock" => (path.clone(), None),
        [flag, path, l, like] if flag == "--sock" && l == "--like" => {
            (path.clone(), Some(like.clone()))
        }
        _ => bail!("usage: of_null_switch --sock PATH [--like SOCK]"),
    };
    let rec: &'static Recorded = Box::leak(Box::new(match like {
        Some(l) => record(&l)?,
        None => Recorded::new(),
    }));
    let _ = std::fs::remove_file(&sock);
    let l = UnixListener::bind(&sock).with_context(|| format!("binding {sock}"))?;
    for (id, s) in (1u64..).zip(l.incoming()) {
        let s = s?;
        s.set_nonblocking(true)?;
        NEWEST.store(id, Relaxed);
        std::thread::spawn(move || {
            if let Err(e) = serve(s, id, rec) {
                eprintln!("of_null_switch: {e:#}");
            }
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer_plain(m: &[u8]) -> Option<Vec<u8>> {
        answer(m, &Recorded::new())
    }

    #[test]
    fn recorded_replies_answer_their_version_with_the_clients_xid() {
        let mut rec = Recorded::new();
        let part = |more: u8| msg(4, 19, &[0, 0, 0, 2], &[0, 12, 0, more, 0, 0, 0, 0, 7, 7]);
        rec.insert((4, MP_TABLE_FEATURES), vec![part(1), part(0)]);
        let req = msg(4, 18, &[0, 0, 0, 9], &[0, 12, 0, 0, 0, 0, 0, 0]);
        let r = answer(&req, &rec).unwrap();
        assert_eq!(r.len(), 2 * 18);
        for m in r.chunks(18) {
            assert_eq!(
                (m[0], &m[4..8], &m[16..]),
                (4, &[0u8, 0, 0, 9][..], &[7u8, 7][..])
            );
        }
        // Another version is not answered with them.
        let req = msg(5, 18, &[0, 0, 0, 9], &[0, 12, 0, 0, 0, 0, 0, 0]);
        assert_eq!(answer(&req, &rec).unwrap().len(), 16 + 128);
    }

    #[test]
    fn barrier_and_bundle_replies() {
        let r = answer_plain(&msg(1, 18, &[0, 0, 0, 9], &[])).unwrap();
        assert_eq!(r, msg(1, 19, &[0, 0, 0, 9], &[]));
        let r = answer_plain(&msg(5, 20, &[0, 0, 0, 9], &[])).unwrap();
        assert_eq!(r[1], 21);
        let open = [0, 0, 0, 7, 0, 0, 0, 1];
        let r = answer_plain(&msg(5, BUNDLE_CONTROL, &[0, 0, 0, 3], &open)).unwrap();
        assert_eq!(&r[8..], &[0, 0, 0, 7, 0, 1, 0, 1]);
        // A flow-mod gets nothing.
        assert_eq!(answer_plain(&msg(1, 14, &[0; 4], &[0; 64])), None);
    }

    #[test]
    fn multipart_replies_are_empty_with_fixed_bodies() {
        let r = answer_plain(&msg(4, 18, &[0, 0, 0, 1], &[0, 13, 0, 0, 0, 0, 0, 0])).unwrap();
        assert_eq!((r[1], r.len()), (19, 16));
        let r = answer_plain(&msg(1, 16, &[0, 0, 0, 1], &[0, 0, 0, 0])).unwrap();
        assert_eq!((r[1], r.len()), (17, 12 + 1056));
    }
}
