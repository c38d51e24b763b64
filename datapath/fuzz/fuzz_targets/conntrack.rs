//! Fuzz target: arbitrary packet sequences through one connection tracker,
//! across zones.
//!
//! Each 16-byte record builds a packet of a small address/port space (so
//! that connections form, answer and collide) or, one in eight, takes
//! raw bytes as the frame; its action picks a zone (0-3), commit, force,
//! mark/label sets, NAT (none, bare, SNAT or DNAT with ranges,
//! persistent/random) and an ALG (ftp, tftp); an IPv4 TCP packet may
//! carry an FTP announcement (PORT, EPRT, 227) naming one of the hosts
//! or NAT addresses, so the ALG's payload rewriting under NAT runs (and
//! must keep checksums right). Some records send an ICMP error quoting the
//! previous packet, advance the clock and sweep, or flush a zone.
//! Checked after every packet: no panic; `trk` set and the zone the
//! action named; the limits hold (connections below the maximum, zone
//! counts summing to the total); a packet built with good checksums keeps
//! them through NAT; and a packet found `est` or `rel` matched a
//! connection of its own zone (its whole original tuple reported by a
//! live connection of that zone). `seeds/conntrack` holds inputs that
//! once failed (issue 16: a TFTP request's expectation outliving the
//! request replaced by a forced reply).
#![no_main]
use ferrovs_datapath::actions::Masked;
use ferrovs_datapath::conntrack::frame::{checksums_ok, icmp_error, pseudo_sum, Pkt};
use ferrovs_datapath::conntrack::{
    Alg, Conntrack, CtAction, NatKind, NatSpec, CS_ESTABLISHED, CS_RELATED, CS_TRACKED,
};
use ferrovs_datapath::flow::layout::DL_TYPE;
use ferrovs_datapath::flow::{extract, FlowKey};
use ferrovs_datapath::packet::DpPacket;
use ferrovs_datapath::random::Rng;
use libfuzzer_sys::fuzz_target;

const MAX: usize = 48;

fn addr(v6: bool, i: u8) -> u128 {
    let i = (i & 3) as u128;
    if v6 {
        (0x2001_0db8u128 << 96) | (i + 1)
    } else {
        0xc612_0000 + i + 1
    }
}

fn action(r: &[u8]) -> CtAction {
    let zone = (r[0] & 3) as u16;
    let nat = match (r[1] >> 2) & 7 {
        0 | 1 | 2 => None,
        3 => Some(NatSpec::default()),
        k => Some(NatSpec {
            kind: Some(if k & 1 == 0 {
                NatKind::Src
            } else {
                NatKind::Dst
            }),
            v6: r[1] & 1 != 0,
            min_addr: if k == 7 {
                0
            } else {
                addr(r[1] & 1 != 0, r[2]) + 0x10
            },
            max_addr: if r[2] & 4 != 0 {
                addr(r[1] & 1 != 0, r[2]) + 0x13
            } else {
                0
            },
            min_port: if r[2] & 8 != 0 {
                1000 + (r[3] & 3) as u16
            } else {
                0
            },
            max_port: if r[2] & 16 != 0 { 1003 } else { 0 },
            persistent: r[2] & 32 != 0,
            hash: r[2] & 64 != 0,
            random: r[2] & 128 != 0,
        }),
    };
    CtAction {
        zone,
        commit: r[0] & 4 != 0,
        force: r[0] & 8 != 0,
        mark: (r[0] & 16 != 0).then_some(Masked {
            value: r[3] as u32,
            mask: 0xff,
        }),
        label: (r[0] & 32 != 0).then_some(Masked {
            value: (r[3] as u128) << 64,
            mask: u128::MAX,
        }),
        nat,
        helper: match r[0] >> 6 {
            1 => Some(Alg::Ftp),
            2 => Some(Alg::Tftp),
            _ => None,
        },
        ..CtAction::default()
    }
}

fn packet(r: &[u8]) -> Pkt {
    let v6 = r[1] & 1 != 0;
    let proto = [6u8, 17, if v6 { 58 } else { 1 }, 47][(r[4] & 3) as usize];
    Pkt {
        v6,
        src: addr(v6, r[4] >> 2),
        dst: addr(v6, r[4] >> 4),
        proto,
        sport: if proto == 1 || proto == 58 {
            (r[5] & 3) as u16
        } else {
            1000 + (r[5] & 7) as u16
        },
        dport: match proto {
            1 => [8u16, 0, 13, 5][(r[6] & 3) as usize],
            58 => [128u16, 129, 1, 135][(r[6] & 3) as usize],
            _ => 1000 + (r[6] & 7) as u16,
        },
        flags: u16::from_be_bytes([r[7] & 0x0f, r[8]]),
        seq: u32::from_be_bytes([r[9], r[10], 0, 0]) >> (r[11] & 15),
        ack: u32::from_be_bytes([r[12], r[13], 0, 0]) >> (r[11] >> 4),
        win: u16::from_be_bytes([r[14], 0xff]),
        payload: (r[15] & 0x3f) as u16,
    }
}

/// `p` as a frame whose TCP payload is an FTP announcement naming
/// `a` (a host or a NAT address of the small space) and port `port`.
fn ftp_frame(p: &Pkt, kind: u8, a: u128, port: u16) -> Vec<u8> {
    let o = (a as u32).to_be_bytes();
    let (p1, p2) = (port >> 8, port & 0xff);
    let text = match kind & 3 {
        0 => format!("PORT {},{},{},{},{p1},{p2}\r\n", o[0], o[1], o[2], o[3]),
        1 => format!("EPRT |1|{}.{}.{}.{}|{port}|\r\n", o[0], o[1], o[2], o[3]),
        2 => format!(
            "227 Entering Passive Mode ({},{},{},{},{p1},{p2}).\r\n",
            o[0], o[1], o[2], o[3]
        ),
        _ => format!("229 Entering Extended Passive Mode (|||{port}|)\r\n"),
    };
    let q = Pkt {
        payload: text.len() as u16,
        ..*p
    };
    let mut f = q.emit();
    let at = f.len() - text.len();
    f[at..].copy_from_slice(text.as_bytes());
    let l4 = 14 + 20;
    f[l4 + 16..l4 + 18].copy_from_slice(&[0, 0]);
    let mut acc = pseudo_sum(false, q.src, q.dst, 6, f.len() - l4);
    for c in f[l4..].chunks(2) {
        acc += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    f[l4 + 16..l4 + 18].copy_from_slice(&(!(acc as u16)).to_be_bytes());
    f
}

fn run(ct: &Conntrack, frame: &[u8], a: &CtAction, now: u64, rng: &mut Rng) -> DpPacket {
    let mut p = DpPacket::from_bytes(frame);
    let mut k = FlowKey::default();
    extract(&mut p, &mut k);
    let dl = k.get(DL_TYPE);
    ct.execute(
        &mut p,
        dl == 0x0800 || dl == 0x86dd,
        dl == 0x86dd,
        a,
        now,
        rng,
    );
    p
}

fuzz_target!(|data: &[u8]| {
    let ct = Conntrack::with_basis(7);
    ct.limits().set_max_conns(MAX);
    ct.limits().set_zone_limit(3, Some(5));
    let mut rng = Rng::new(1);
    let mut now = 0u64;
    let mut last: Vec<u8> = Vec::new();
    let mut rest = data;
    while rest.len() >= 16 {
        let (r, tail) = rest.split_at(16);
        rest = tail;
        let a = action(r);
        let (frame, built) = match r[7] >> 5 {
            0 => {
                // Raw bytes: the next r[15] bytes of input.
                let n = (r[15] as usize).min(rest.len());
                let (f, t) = rest.split_at(n);
                rest = t;
                (f.to_vec(), false)
            }
            1 if last.len() > 14 => {
                let v6 = last[12..14] == [0x86, 0xdd];
                let to = addr(v6, r[4]);
                (icmp_error(v6, addr(v6, 3) + 0x40, to, &last[14..]), true)
            }
            2 => {
                now += (r[15] as u64) * 1000;
                ct.sweep(now);
                continue;
            }
            3 if r[14] == 0xff => {
                ct.flush(Some(a.zone), None);
                continue;
            }
            _ => {
                let p = packet(r);
                if !p.v6 && p.proto == 6 && r[15] & 0x40 != 0 {
                    let a = addr(false, r[5] >> 3) + if r[5] & 0x80 != 0 { 0x10 } else { 0 };
                    (ftp_frame(&p, r[6] >> 3, a, 1000 + (r[3] & 7) as u16), true)
                } else {
                    (p.emit(), true)
                }
            }
        };
        let p = run(&ct, &frame, &a, now, &mut rng);
        let md = p.md().ct;
        assert!(md.state & CS_TRACKED != 0);
        assert_eq!(md.zone, a.zone);
        let n = ct.n_conns();
        assert!(n <= MAX);
        let counted: u32 = (0..4).map(|z| ct.limits().zone_count(z)).sum();
        assert_eq!(counted as usize, n);
        assert!(ct.limits().zone_count(3) <= 5);
        if built && checksums_ok(&frame) {
            assert!(checksums_ok(p.data()), "NAT broke a checksum");
        }
        if md.state & (CS_ESTABLISHED | CS_RELATED) != 0 {
            // The connection the packet matched is of its own zone: a
            // live one of that zone reports the packet's original tuple
            // (its parent's for a connection an ALG expected, as OVS, even
            // once the parent is gone), or, for a related packet not
            // committed, is the expectation's (live) parent.
            let mut own_zone = false;
            ct.table().for_each(|c| {
                if c.fwd.zone == a.zone
                    && (c.orig_tuple() == md.orig || c.fwd.ct_tuple() == md.orig)
                {
                    own_zone = true;
                }
            });
            assert!(own_zone, "matched a connection of another zone");
        }
        last = p.data().to_vec();
    }
});
