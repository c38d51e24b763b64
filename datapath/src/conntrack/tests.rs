//! Tracker tests through whole frames: states, zones, NAT with checksums,
//! ICMP errors, expiry on a mocked clock, limits, threads.

use std::sync::Arc;

use proptest::prelude::*;

use super::frame::{checksums_ok, icmp_error, Pkt};
use super::key::{TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN};
use super::*;
use crate::flow::layout::DL_TYPE;
use crate::flow::{extract, FlowKey};
use crate::packet::DpPacket;
use std::sync::atomic::Ordering;

const A: u32 = 0xc612_0001; // 198.18.0.1
const B: u32 = 0xc613_0002; // 198.19.0.2
const N: u32 = 0xc613_ff01; // 198.19.255.1 (NAT address)
const C: u32 = 0xc613_0063; // 198.19.0.99 (a router)

fn run(ct: &Conntrack, frame: &[u8], a: &CtAction, now: u64) -> DpPacket {
    let mut p = DpPacket::from_bytes(frame);
    run_pkt(ct, &mut p, a, now);
    p
}

fn run_pkt(ct: &Conntrack, p: &mut DpPacket, a: &CtAction, now: u64) {
    let mut k = FlowKey::default();
    extract(p, &mut k);
    let dl = k.get(DL_TYPE);
    let mut rng = crate::random::Rng::new(now | 1);
    ct.execute(
        p,
        dl == 0x0800 || dl == 0x86dd,
        dl == 0x86dd,
        a,
        now,
        &mut rng,
    );
}

fn commit(zone: u16) -> CtAction {
    CtAction {
        zone,
        commit: true,
        ..CtAction::default()
    }
}

fn track(zone: u16) -> CtAction {
    CtAction {
        zone,
        ..CtAction::default()
    }
}

fn st(p: &DpPacket) -> u16 {
    p.md().ct.state
}

const NEW: u16 = CS_NEW | CS_TRACKED;
const EST: u16 = CS_ESTABLISHED | CS_TRACKED;
const RPL: u16 = CS_ESTABLISHED | CS_REPLY_DIR | CS_TRACKED;
const INV: u16 = CS_INVALID | CS_TRACKED;

#[test]
fn tcp_connection_states() {
    let ct = Conntrack::with_basis(1);
    let syn = Pkt::tcp4(A, 40000, B, 80, TCP_SYN).seq(100, 0);
    // Not committed: new, nothing stored.
    assert_eq!(st(&run(&ct, &syn.emit(), &track(1), 0)), NEW);
    assert_eq!(ct.n_conns(), 0);
    let p = run(&ct, &syn.emit(), &commit(1), 0);
    assert_eq!(st(&p), NEW);
    assert_eq!(ct.n_conns(), 1);
    assert_eq!(p.md().ct.zone, 1);
    assert_eq!(p.md().ct.orig.ipv4_src, A);
    assert_eq!(p.md().ct.orig.tp_dst, 80);
    assert_eq!(p.md().ct.orig.nw_proto, 6);
    let synack = Pkt::tcp4(B, 80, A, 40000, TCP_SYN | TCP_ACK).seq(900, 101);
    assert_eq!(st(&run(&ct, &synack.emit(), &track(1), 1)), RPL);
    let ack = Pkt::tcp4(A, 40000, B, 80, TCP_ACK).seq(101, 901);
    assert_eq!(st(&run(&ct, &ack.emit(), &track(1), 2)), EST);
    let data = Pkt::tcp4(A, 40000, B, 80, TCP_ACK | TCP_PSH)
        .seq(101, 901)
        .with_payload(100);
    assert_eq!(st(&run(&ct, &data.emit(), &track(1), 3)), EST);
    // Far outside the window: invalid.
    let bad = Pkt::tcp4(A, 40000, B, 80, TCP_ACK)
        .seq(101 + 10_000_000, 901)
        .with_payload(10);
    assert_eq!(st(&run(&ct, &bad.emit(), &track(1), 4)), INV);
    // A RST at the wrong sequence is invalid; at the right one, valid.
    let rst = Pkt::tcp4(B, 80, A, 40000, TCP_RST).seq(5555, 0);
    assert_eq!(st(&run(&ct, &rst.emit(), &track(1), 5)), INV);
    let rst = Pkt::tcp4(B, 80, A, 40000, TCP_RST | TCP_ACK).seq(901, 201);
    assert_eq!(st(&run(&ct, &rst.emit(), &track(1), 5)), RPL);
    // Liberal mode lets an out-of-window segment through.
    ct.set_tcp_seq_chk(false);
    assert_eq!(st(&run(&ct, &bad.emit(), &track(1), 6)), EST);
    ct.set_tcp_seq_chk(true);
}

#[test]
fn invalid_packets() {
    let ct = Conntrack::with_basis(1);
    // SYN|ACK cannot open a connection; SYN|FIN is never valid.
    for f in [TCP_SYN | TCP_ACK, TCP_SYN | TCP_FIN, 0, TCP_FIN] {
        let p = Pkt::tcp4(A, 1, B, 2, f);
        assert_eq!(st(&run(&ct, &p.emit(), &commit(0), 0)), INV, "flags {f:#x}");
    }
    assert_eq!(ct.n_conns(), 0);
    // Not IP at all.
    let mut arp = vec![0xff; 6];
    arp.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x08, 0x06]);
    arp.extend_from_slice(&[0; 28]);
    assert_eq!(st(&run(&ct, &arp, &commit(0), 0)), INV);
    // A truncated TCP header.
    let mut f = Pkt::tcp4(A, 1, B, 2, TCP_SYN).emit();
    f.truncate(14 + 20 + 10);
    f[16..18].copy_from_slice(&30u16.to_be_bytes());
    assert_eq!(st(&run(&ct, &f, &commit(0), 0)), INV);
    // An ICMP echo reply opens nothing.
    let r = Pkt::echo(false, A as u128, B as u128, 7, 0);
    assert_eq!(st(&run(&ct, &r.emit(), &commit(0), 0)), INV);
    assert_eq!(ct.n_conns(), 0);
}

#[test]
fn zones_never_see_each_other() {
    let ct = Conntrack::with_basis(1);
    let syn = Pkt::tcp4(A, 40000, B, 80, TCP_SYN).seq(100, 0);
    run(&ct, &syn.emit(), &commit(1), 0);
    let synack = Pkt::tcp4(B, 80, A, 40000, TCP_SYN | TCP_ACK).seq(900, 101);
    // Zone 2 knows nothing of it: a SYN|ACK is invalid there.
    assert_eq!(st(&run(&ct, &synack.emit(), &track(2), 1)), INV);
    assert_eq!(st(&run(&ct, &synack.emit(), &track(1), 1)), RPL);
    // UDP: committed in zone 3, new in zone 4.
    let u = Pkt::udp4(A, 5000, B, 53);
    run(&ct, &u.emit(), &commit(3), 0);
    let r = Pkt::udp4(B, 53, A, 5000);
    assert_eq!(st(&run(&ct, &r.emit(), &track(4), 1)), NEW);
    assert_eq!(st(&run(&ct, &r.emit(), &track(3), 1)), RPL);
    // A packet tracked in zone 3 then sent to zone 4 starts afresh.
    let mut p = DpPacket::from_bytes(&r.emit());
    run_pkt(&ct, &mut p, &track(3), 2);
    assert_eq!(st(&p), RPL);
    run_pkt(&ct, &mut p, &track(4), 2);
    assert_eq!(st(&p), NEW);
    assert_eq!(p.md().ct.zone, 4);
}

#[test]
fn mark_and_label_stored_per_connection() {
    let ct = Conntrack::with_basis(1);
    let u = Pkt::udp4(A, 5000, B, 53);
    let a = CtAction {
        mark: Some(Masked {
            value: 0xab,
            mask: 0xff,
        }),
        label: Some(Masked {
            value: 1 << 100,
            mask: u128::MAX,
        }),
        ..commit(9)
    };
    let p = run(&ct, &u.emit(), &a, 0);
    assert_eq!(p.md().ct.mark, 0xab);
    let r = run(&ct, &Pkt::udp4(B, 53, A, 5000).emit(), &track(9), 1);
    assert_eq!(r.md().ct.mark, 0xab);
    assert_eq!(r.md().ct.label, 1 << 100);
    // Masked update keeps the other bits.
    let a2 = CtAction {
        mark: Some(Masked {
            value: 0x100,
            mask: 0xf00,
        }),
        ..commit(9)
    };
    assert_eq!(run(&ct, &u.emit(), &a2, 2).md().ct.mark, 0x1ab);
    // ct_clear forgets all of it.
    let mut p = run(&ct, &u.emit(), &track(9), 3);
    clear(&mut p);
    assert_eq!(p.md().ct, Default::default());
}

#[test]
fn expiry_on_mocked_clock() {
    let ct = Conntrack::with_basis(1);
    run(&ct, &Pkt::udp4(A, 1, B, 2).emit(), &commit(0), 0);
    assert_eq!(ct.sweep(59_999), 0);
    assert_eq!(ct.n_conns(), 1);
    // A second packet one way: "multiple", 60 s from then.
    run(&ct, &Pkt::udp4(A, 1, B, 2).emit(), &track(0), 50_000);
    assert_eq!(ct.sweep(100_000), 0);
    // A reply: bidirectional, 30 s.
    let p = run(&ct, &Pkt::udp4(B, 2, A, 1).emit(), &track(0), 100_000);
    assert_eq!(st(&p), RPL);
    assert_eq!(ct.sweep(129_999), 0);
    assert_eq!(ct.sweep(130_000), 1);
    assert_eq!(ct.n_conns(), 0);
    // Expired but not yet swept: looks gone anyway.
    run(&ct, &Pkt::udp4(A, 1, B, 2).emit(), &commit(0), 200_000);
    let p = run(&ct, &Pkt::udp4(B, 2, A, 1).emit(), &track(0), 260_000);
    assert_eq!(st(&p), NEW);
    // TCP: established lasts a day; after a RST, 30 s.
    run(
        &ct,
        &Pkt::tcp4(A, 9, B, 80, TCP_SYN).seq(1, 0).emit(),
        &commit(0),
        0,
    );
    run(
        &ct,
        &Pkt::tcp4(B, 80, A, 9, TCP_SYN | TCP_ACK).seq(50, 2).emit(),
        &track(0),
        0,
    );
    run(
        &ct,
        &Pkt::tcp4(A, 9, B, 80, TCP_ACK).seq(2, 51).emit(),
        &track(0),
        0,
    );
    ct.sweep(270_000); // the UDP one
    assert_eq!(ct.n_conns(), 1);
    assert_eq!(ct.sweep(86_399_999), 0);
    let rst = Pkt::tcp4(A, 9, B, 80, TCP_RST | TCP_ACK).seq(2, 51);
    run(&ct, &rst.emit(), &track(0), 1000);
    assert_eq!(ct.sweep(30_999), 0);
    assert_eq!(ct.sweep(31_000), 1);
    // Timeout policies per zone.
    let mut t = ZoneTimeouts::default();
    let mut z = Timeouts::default();
    assert!(z.set_by_name("udp_first", 5));
    t.zones.insert(7, z);
    ct.set_timeouts(t);
    run(&ct, &Pkt::udp4(A, 1, B, 2).emit(), &commit(7), 0);
    run(&ct, &Pkt::udp4(A, 1, B, 2).emit(), &commit(8), 0);
    assert_eq!(ct.sweep(5_000), 1);
    assert_eq!(ct.n_conns(), 1);
}

#[test]
fn limits_bound_memory() {
    let ct = Conntrack::with_basis(1);
    ct.limits().set_max_conns(100);
    ct.limits().set_zone_limit(5, Some(10));
    for i in 0..1000u32 {
        let p = Pkt::udp4(A + i, 1000, B, 53);
        let s = st(&run(&ct, &p.emit(), &commit((i % 2) as u16 * 5), 0));
        assert_eq!(s, NEW);
    }
    assert_eq!(ct.n_conns(), 100);
    assert_eq!(ct.limits().zone_count(5), 10);
    assert_eq!(ct.limits().zone_count(0), 90);
    assert_eq!(ct.flush(Some(5), None), 10);
    assert_eq!(ct.n_conns(), 90);
    assert_eq!(ct.flush(None, None), 90);
    assert_eq!(ct.n_conns(), 0);
}

fn snat_to(addr: u32, pmin: u16, pmax: u16) -> NatSpec {
    NatSpec {
        kind: Some(NatKind::Src),
        min_addr: addr as u128,
        min_port: pmin,
        max_port: pmax,
        ..NatSpec::default()
    }
}

fn ip4(p: &DpPacket) -> (u32, u32, u16, u16) {
    let d = p.data();
    (
        u32::from_be_bytes(d[26..30].try_into().unwrap()),
        u32::from_be_bytes(d[30..34].try_into().unwrap()),
        u16::from_be_bytes([d[34], d[35]]),
        u16::from_be_bytes([d[36], d[37]]),
    )
}

#[test]
fn snat_tcp_both_directions_with_checksums() {
    let ct = Conntrack::with_basis(1);
    let nat = CtAction {
        nat: Some(snat_to(N, 5000, 5010)),
        ..commit(1)
    };
    let syn = Pkt::tcp4(A, 40000, B, 80, TCP_SYN).seq(100, 0);
    let p = run(&ct, &syn.emit(), &nat, 0);
    assert_eq!(st(&p), NEW | CS_SRC_NAT);
    let (s, d, sp, dp) = ip4(&p);
    assert_eq!((s, d, dp), (N, B, 80));
    assert!((5000..=5010).contains(&sp));
    assert!(checksums_ok(p.data()));
    // The original tuple in the metadata is the pre-NAT one.
    assert_eq!(p.md().ct.orig.ipv4_src, A);
    // The reply arrives at N:sp and goes back to A:40000.
    let synack = Pkt::tcp4(B, 80, N, sp, TCP_SYN | TCP_ACK).seq(900, 101);
    let bare = CtAction {
        nat: Some(NatSpec::default()),
        ..track(1)
    };
    let r = run(&ct, &synack.emit(), &bare, 1);
    assert_eq!(st(&r), RPL | CS_DST_NAT);
    assert_eq!(ip4(&r), (B, A, 80, 40000));
    assert!(checksums_ok(r.data()));
    // Without `nat` the tracker still matches, and leaves the headers.
    let r = run(&ct, &synack.emit(), &track(1), 1);
    assert_eq!(st(&r), RPL);
    assert_eq!(ip4(&r).1, N);
    // Later packets of the original direction are translated the same.
    let ack = Pkt::tcp4(A, 40000, B, 80, TCP_ACK)
        .seq(101, 901)
        .with_payload(33);
    let p = run(&ct, &ack.emit(), &bare, 2);
    assert_eq!(ip4(&p), (N, B, sp, 80));
    assert_eq!(st(&p), EST | CS_SRC_NAT);
    assert!(checksums_ok(p.data()));
}

#[test]
fn snat_port_exhaustion_gives_no_connection() {
    let ct = Conntrack::with_basis(1);
    let nat = CtAction {
        nat: Some(snat_to(N, 6000, 6001)),
        ..commit(1)
    };
    for i in 0..2u32 {
        let p = run(&ct, &Pkt::udp4(A + i, 7, B, 53).emit(), &nat, 0);
        assert_eq!(st(&p), NEW | CS_SRC_NAT);
    }
    let p = run(&ct, &Pkt::udp4(A + 9, 7, B, 53).emit(), &nat, 0);
    assert_eq!(st(&p), NEW, "no NAT tuple left: not committed");
    assert_eq!(ip4(&p).0, A + 9);
    assert_eq!(ct.n_conns(), 2);
    assert_eq!(ct.counters.nat_exhausted.load(Ordering::Relaxed), 1);
}

#[test]
fn dnat_ipv6_with_port() {
    let ct = Conntrack::with_basis(1);
    let h = |x: u128| (0x2001_0db8u128 << 96) | x;
    let vip = h(0x100);
    let backend = h(0x200);
    let nat = CtAction {
        nat: Some(NatSpec {
            kind: Some(NatKind::Dst),
            v6: true,
            min_addr: backend,
            min_port: 8080,
            ..NatSpec::default()
        }),
        ..commit(2)
    };
    let syn = Pkt::tcp4(0, 3333, 0, 80, TCP_SYN).v6();
    let syn = Pkt {
        src: h(1),
        dst: vip,
        ..syn
    };
    let p = run(&ct, &syn.emit(), &nat, 0);
    assert_eq!(st(&p), NEW | CS_DST_NAT);
    let d = p.data();
    assert_eq!(u128::from_be_bytes(d[38..54].try_into().unwrap()), backend);
    assert_eq!(u16::from_be_bytes([d[56], d[57]]), 8080);
    assert!(checksums_ok(d));
    assert_eq!(p.md().ct.orig.ipv6_dst, vip);
    let reply = Pkt {
        src: backend,
        dst: h(1),
        sport: 8080,
        dport: 3333,
        flags: TCP_SYN | TCP_ACK,
        ack: 1,
        ..syn
    };
    let r = run(
        &ct,
        &reply.emit(),
        &CtAction {
            nat: Some(NatSpec::default()),
            ..track(2)
        },
        1,
    );
    assert_eq!(st(&r), RPL | CS_SRC_NAT);
    let d = r.data();
    assert_eq!(u128::from_be_bytes(d[22..38].try_into().unwrap()), vip);
    assert_eq!(u16::from_be_bytes([d[54], d[55]]), 80);
    assert!(checksums_ok(d));
}

#[test]
fn icmp_echo_and_related_errors_with_nat() {
    let ct = Conntrack::with_basis(1);
    let nat = CtAction {
        nat: Some(snat_to(N, 0, 0)),
        ..commit(1)
    };
    let bare = CtAction {
        nat: Some(NatSpec::default()),
        ..track(1)
    };
    // Echo through SNAT and its reply back.
    let ping = Pkt::echo(false, A as u128, B as u128, 77, 8);
    let p = run(&ct, &ping.emit(), &nat, 0);
    assert_eq!(st(&p), NEW | CS_SRC_NAT);
    assert_eq!(ip4(&p).0, N);
    assert!(checksums_ok(p.data()));
    let id = u16::from_be_bytes([p.data()[38], p.data()[39]]);
    let pong = Pkt::echo(false, B as u128, N as u128, id, 0);
    let r = run(&ct, &pong.emit(), &bare, 1);
    assert_eq!(st(&r), RPL | CS_DST_NAT);
    assert_eq!(ip4(&r).1, A);
    assert_eq!(u16::from_be_bytes([r.data()[38], r.data()[39]]), 77);
    assert!(checksums_ok(r.data()));

    // A UDP flow through SNAT; a router C answers "unreachable" to N,
    // quoting the translated datagram: related, reply, sent on to A with
    // the quote translated back.
    let u = Pkt::udp4(A, 4444, B, 53).with_payload(20);
    let p = run(&ct, &u.emit(), &nat, 2);
    let (_, _, sp, _) = ip4(&p);
    let err = icmp_error(false, C as u128, N as u128, &p.data()[14..]);
    let e = run(&ct, &err, &bare, 3);
    assert_eq!(st(&e), CS_RELATED | CS_REPLY_DIR | CS_TRACKED | CS_DST_NAT);
    let d = e.data();
    assert_eq!(ip4(&e).0, C, "the router's address stays");
    assert_eq!(ip4(&e).1, A);
    // Quoted header at 14 + 20 + 8.
    let q = 42;
    assert_eq!(u32::from_be_bytes(d[q + 12..q + 16].try_into().unwrap()), A);
    assert_eq!(u16::from_be_bytes([d[q + 20], d[q + 21]]), 4444);
    assert_ne!(sp, 0);
    assert!(checksums_ok(d));
    assert_eq!(crate::wire::checksum::checksum(&d[q..q + 20]), 0);
    // An error quoting a connection that does not exist: invalid.
    let other = Pkt::udp4(N, 1, B, 2).ip();
    let err = icmp_error(false, C as u128, N as u128, &other);
    assert_eq!(st(&run(&ct, &err, &bare, 3)), INV);
    // An error quoting a zone-1 connection seen in zone 2: invalid.
    let err = icmp_error(false, C as u128, N as u128, &p.data()[14..]);
    assert_eq!(st(&run(&ct, &err, &track(2), 3)), INV);
}

#[test]
fn icmpv6_echo_and_error() {
    let ct = Conntrack::with_basis(1);
    let h = |x: u128| (0x2001_0db8u128 << 96) | x;
    let ping = Pkt::echo(true, h(1), h(2), 5, 128);
    assert_eq!(st(&run(&ct, &ping.emit(), &commit(0), 0)), NEW);
    let pong = Pkt::echo(true, h(2), h(1), 5, 129);
    assert_eq!(st(&run(&ct, &pong.emit(), &track(0), 0)), RPL);
    let err = icmp_error(true, h(9), h(1), &Pkt::echo(true, h(1), h(2), 5, 128).ip());
    assert_eq!(
        st(&run(&ct, &err, &track(0), 0)),
        CS_RELATED | CS_REPLY_DIR | CS_TRACKED
    );
}

#[test]
fn partial_checksum_stays_partial_through_snat() {
    use crate::offload::{Offload, VNET_F_NEEDS_CSUM};
    let ct = Conntrack::with_basis(1);
    let u = Pkt::udp4(A, 4444, B, 53).with_payload(40);
    let mut f = u.emit();
    // Make the UDP checksum partial: the pseudo-header sum only.
    let len = 8 + 40;
    let ps = super::frame::pseudo_sum(false, A as u128, B as u128, 17, len);
    let partial = crate::wire::checksum::fold(ps);
    f[40..42].copy_from_slice(&partial.to_be_bytes());
    let mut p = DpPacket::from_bytes(&f);
    p.set_offload(Offload {
        flags: VNET_F_NEEDS_CSUM,
        csum_start: 34,
        csum_offset: 6,
        ..Offload::default()
    });
    let nat = CtAction {
        nat: Some(snat_to(N, 0, 0)),
        ..commit(1)
    };
    run_pkt(&ct, &mut p, &nat, 0);
    assert_eq!(ip4(&p).0, N);
    // Finishing the checksum now gives a correct packet.
    let mut out = p.data().to_vec();
    crate::offload::csum::complete(&mut out, &p.offload()).unwrap();
    assert!(checksums_ok(&out));
}

#[test]
fn force_commit_replaces_reply_direction_connection() {
    let ct = Conntrack::with_basis(1);
    run(&ct, &Pkt::udp4(A, 1, B, 2).emit(), &commit(0), 0);
    let force = CtAction {
        force: true,
        ..commit(0)
    };
    let p = run(&ct, &Pkt::udp4(B, 2, A, 1).emit(), &force, 1);
    assert_eq!(st(&p), NEW);
    assert_eq!(p.md().ct.orig.ipv4_src, B);
    assert_eq!(ct.n_conns(), 1);
}

#[test]
fn tcp_reopen_after_close_replaces_connection() {
    let ct = Conntrack::with_basis(1);
    let a = commit(0);
    run(
        &ct,
        &Pkt::tcp4(A, 9, B, 80, TCP_SYN).seq(1, 0).emit(),
        &a,
        0,
    );
    run(
        &ct,
        &Pkt::tcp4(B, 80, A, 9, TCP_SYN | TCP_ACK).seq(50, 2).emit(),
        &a,
        0,
    );
    run(
        &ct,
        &Pkt::tcp4(A, 9, B, 80, TCP_ACK | TCP_FIN).seq(2, 51).emit(),
        &a,
        0,
    );
    run(
        &ct,
        &Pkt::tcp4(B, 80, A, 9, TCP_ACK | TCP_FIN).seq(51, 3).emit(),
        &a,
        0,
    );
    run(
        &ct,
        &Pkt::tcp4(A, 9, B, 80, TCP_ACK).seq(3, 52).emit(),
        &a,
        0,
    );
    let p = run(
        &ct,
        &Pkt::tcp4(A, 9, B, 80, TCP_SYN).seq(7777, 0).emit(),
        &a,
        1,
    );
    assert_eq!(st(&p), NEW);
    assert_eq!(ct.n_conns(), 1);
    let p = run(
        &ct,
        &Pkt::tcp4(B, 80, A, 9, TCP_SYN | TCP_ACK)
            .seq(1, 7778)
            .emit(),
        &a,
        1,
    );
    assert_eq!(st(&p), RPL);
}

/// The connection-rate bench's failure: a client's SYN goes unanswered
/// (the listener's accept queue was full), the client gives up and its
/// next connection reuses the source port with a new initial sequence
/// number while the first attempt's entry is still SYN_SENT. That
/// connection's handshake and RST must be valid, so that the pair closes
/// and the next SYN of the 5-tuple is `new` again (not `inv` for as long
/// as a stale ESTABLISHED entry lives).
#[test]
fn port_reused_after_an_unanswered_syn_closes_and_reopens() {
    let ct = Conntrack::with_basis(1);
    let syn = |seq| Pkt::tcp4(A, 2064, B, 5303, TCP_SYN).seq(seq, 0).emit();
    // Firewall: ct(zone) then ct(commit,zone) for +new.
    let both = |frame: &[u8], now| {
        let s = st(&run(&ct, frame, &track(5), now));
        if s == NEW {
            assert_eq!(st(&run(&ct, frame, &commit(5), now)), NEW);
        }
        s
    };
    assert_eq!(both(&syn(999_675_040), 0), NEW);
    // 1 s later, another attempt on the same port.
    assert_eq!(both(&syn(1_018_010_475), 1_000), NEW);
    assert_eq!(ct.n_conns(), 1);
    let synack = Pkt::tcp4(B, 5303, A, 2064, TCP_SYN | TCP_ACK)
        .seq(1_222_205_441, 1_018_010_476)
        .emit();
    assert_eq!(both(&synack, 1_001), RPL);
    let ack = Pkt::tcp4(A, 2064, B, 5303, TCP_ACK)
        .seq(1_018_010_476, 1_222_205_442)
        .emit();
    assert_eq!(both(&ack, 1_001), EST);
    let rst = Pkt::tcp4(A, 2064, B, 5303, TCP_RST | TCP_ACK)
        .seq(1_018_010_476, 1_222_205_442)
        .emit();
    assert_eq!(both(&rst, 1_001), EST);
    // The port comes back a second later: a new connection.
    assert_eq!(both(&syn(1_027_956_417), 2_000), NEW);
    assert_eq!(ct.n_conns(), 1);
}

#[test]
fn dump_format() {
    let ct = Conntrack::with_basis(1);
    let a = CtAction {
        mark: Some(Masked::<u32>::exact(7)),
        ..commit(3)
    };
    run(
        &ct,
        &Pkt::tcp4(A, 9, B, 80, TCP_SYN).seq(1, 0).emit(),
        &a,
        0,
    );
    run(
        &ct,
        &Pkt::echo(false, A as u128, B as u128, 3, 8).emit(),
        &commit(0),
        0,
    );
    let mut lines = Vec::new();
    ct.table().for_each(|c| lines.push(fmt::entry(c, 0, false)));
    lines.sort();
    assert_eq!(
        lines,
        [
            "icmp,orig=(src=198.18.0.1,dst=198.19.0.2,id=3,type=8,code=0),\
             reply=(src=198.19.0.2,dst=198.18.0.1,id=3,type=0,code=0)",
            "tcp,orig=(src=198.18.0.1,dst=198.19.0.2,sport=9,dport=80),\
             reply=(src=198.19.0.2,dst=198.18.0.1,sport=80,dport=9),zone=3,mark=7,\
             protoinfo=(state=SYN_SENT)",
        ]
    );
}

#[test]
fn many_threads_share_the_tracker() {
    let ct = Arc::new(Conntrack::with_basis(3));
    let threads: Vec<_> = (0..4u32)
        .map(|t| {
            let ct = ct.clone();
            std::thread::spawn(move || {
                for i in 0..500u32 {
                    // Each thread its own connections, and all threads the
                    // same 50 connections (racing to create them).
                    let own = Pkt::udp4(A + t * 1000 + i, 1000, B, 53);
                    run(&ct, &own.emit(), &commit(1), 0);
                    let shared = Pkt::udp4(A, 2000 + (i % 50) as u16, B, 53);
                    let s = st(&run(&ct, &shared.emit(), &commit(1), 0));
                    assert!(s == NEW, "state {s:#x}");
                    let back = Pkt::udp4(B, 53, A + t * 1000 + i, 1000);
                    assert_eq!(st(&run(&ct, &back.emit(), &track(1), 1)), RPL);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(ct.n_conns(), 4 * 500 + 50);
    assert_eq!(ct.limits().zone_count(1) as usize, ct.n_conns());
    let mut n = 0;
    ct.table().for_each(|_| n += 1);
    assert_eq!(n, ct.n_conns());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Whatever the tuple and NAT spec, the reply to a translated packet
    /// is translated back to the original tuple, with valid checksums.
    #[test]
    fn nat_reply_maps_back(
        src in 1u32.., dst in 1u32.., sport in 1u16.., dport in 1u16..,
        udp in any::<bool>(), snat in any::<bool>(),
        amin in 1u32.., aspan in 0u32..16, pmin in 0u16..60000, pspan in 0u16..100,
        persistent in any::<bool>(), random in any::<bool>(), zone in any::<u16>(),
    ) {
        let ct = Conntrack::with_basis(5);
        let spec = NatSpec {
            kind: Some(if snat { NatKind::Src } else { NatKind::Dst }),
            min_addr: amin as u128,
            max_addr: amin.saturating_add(aspan) as u128,
            min_port: pmin,
            max_port: if pmin == 0 { 0 } else { pmin.saturating_add(pspan) },
            persistent,
            random,
            ..NatSpec::default()
        };
        let orig = if udp {
            Pkt::udp4(src, sport, dst, dport)
        } else {
            Pkt::tcp4(src, sport, dst, dport, TCP_SYN).seq(10, 0)
        };
        let a = CtAction { nat: Some(spec), ..commit(zone) };
        let p = run(&ct, &orig.emit(), &a, 0);
        prop_assert!(checksums_ok(p.data()));
        let (s2, d2, sp2, dp2) = ip4(&p);
        let reply = if udp {
            Pkt::udp4(d2, dp2, s2, sp2)
        } else {
            Pkt::tcp4(d2, dp2, s2, sp2, TCP_SYN | TCP_ACK).seq(99, 11)
        };
        let bare = CtAction { nat: Some(NatSpec::default()), ..track(zone) };
        let r = run(&ct, &reply.emit(), &bare, 1);
        prop_assert_eq!(st(&r) & CS_REPLY_DIR, CS_REPLY_DIR);
        prop_assert_eq!(ip4(&r), (dst, src, dport, sport));
        prop_assert!(checksums_ok(r.data()));
    }
}

/// A TCP segment carrying `text` as payload.
fn tcp_text(p: Pkt, text: &[u8]) -> Vec<u8> {
    let mut f = p.with_payload(text.len() as u16).emit();
    let at = f.len() - text.len();
    f[at..].copy_from_slice(text);
    // Recompute the TCP checksum over the new payload.
    let l4_at = if p.v6 { 54 } else { 34 };
    f[l4_at + 16..l4_at + 18].copy_from_slice(&[0, 0]);
    let l4 = &f[l4_at..];
    let acc = super::frame::pseudo_sum(p.v6, p.src, p.dst, 6, l4.len());
    let c = !crate::wire::checksum::fold(crate::wire::checksum::sum16(l4, acc));
    f[l4_at + 16..l4_at + 18].copy_from_slice(&c.to_be_bytes());
    f
}

const A6: u128 = 0x2001_0db8_0000_0000_0000_0000_0000_0001; // 2001:db8::1
const B6: u128 = 0x2001_0db8_0001_0000_0000_0000_0000_0002; // 2001:db8:1::2
const N6: u128 = 0x2001_0db8_ffff_0000_0000_0000_0000_0001; // 2001:db8:ffff::1

fn tcp6(src: u128, sport: u16, dst: u128, dport: u16, flags: u16) -> Pkt {
    Pkt {
        src,
        dst,
        ..Pkt::tcp4(0, sport, 0, dport, flags)
    }
    .v6()
}

/// Addresses and ports of an IPv6 TCP frame (no extension headers).
fn ip6(p: &DpPacket) -> (u128, u128, u16, u16) {
    let d = p.data();
    (
        u128::from_be_bytes(d[22..38].try_into().unwrap()),
        u128::from_be_bytes(d[38..54].try_into().unwrap()),
        u16::from_be_bytes([d[54], d[55]]),
        u16::from_be_bytes([d[56], d[57]]),
    )
}

fn tcp6_seq_ack(p: &DpPacket) -> (u32, u32) {
    let d = p.data();
    (
        u32::from_be_bytes(d[58..62].try_into().unwrap()),
        u32::from_be_bytes(d[62..66].try_into().unwrap()),
    )
}

/// FTP over IPv6 (RFC 2428): the client's `EPRT |2|addr|port|` and the
/// server's `229 ... (|||port|)` announce data connections, which are
/// `rel` to the control connection (zone-bound); an EPRT naming another
/// host, or an IPv4 address, announces nothing.
#[test]
fn ftp_over_ipv6_eprt_and_epsv_data_connections_are_related() {
    let ct = Conntrack::with_basis(1);
    let ftp = CtAction {
        helper: Some(Alg::Ftp),
        ..commit(4)
    };
    run(
        &ct,
        &tcp6(A6, 40000, B6, 21, TCP_SYN).seq(100, 0).emit(),
        &ftp,
        0,
    );
    let synack = tcp6(B6, 21, A6, 40000, TCP_SYN | TCP_ACK).seq(900, 101);
    assert_eq!(st(&run(&ct, &synack.emit(), &track(4), 0)), RPL);
    for (text, seq) in [
        (&b"EPRT |2|2001:db8::7|50000|\r\n"[..], 101),
        (b"EPRT |1|198.18.0.1|50000|\r\n", 128),
        (b"PORT 198,18,0,1,195,80\r\n", 154),
    ] {
        let p = tcp_text(
            tcp6(A6, 40000, B6, 21, TCP_ACK | TCP_PSH).seq(seq, 901),
            text,
        );
        assert!(checksums_ok(&p));
        assert_eq!(st(&run(&ct, &p, &track(4), 1)), EST);
    }
    assert_eq!(ct.n_expectations(), 0, "nothing announced");
    let eprt = tcp_text(
        tcp6(A6, 40000, B6, 21, TCP_ACK | TCP_PSH).seq(178, 901),
        b"EPRT |2|2001:db8::1|50000|\r\n",
    );
    assert_eq!(st(&run(&ct, &eprt, &track(4), 1)), EST);
    assert_eq!(ct.n_expectations(), 1);
    let data = tcp6(B6, 20, A6, 50000, TCP_SYN).seq(5, 0);
    assert_eq!(st(&run(&ct, &data.emit(), &commit(5), 2)), NEW, "zone 5");
    assert_eq!(st(&run(&ct, &data.emit(), &commit(4), 2)), NEW | CS_RELATED);
    let back = tcp6(A6, 50000, B6, 20, TCP_SYN | TCP_ACK).seq(77, 6);
    assert_eq!(st(&run(&ct, &back.emit(), &track(4), 2)), RPL | CS_RELATED);
    // Passive mode: 229 names the port only.
    let epsv = tcp_text(
        tcp6(B6, 21, A6, 40000, TCP_ACK | TCP_PSH).seq(901, 206),
        b"229 Entering Extended Passive Mode (|||6446|)\r\n",
    );
    assert_eq!(st(&run(&ct, &epsv, &track(4), 3)), RPL);
    let data = tcp6(A6, 41000, B6, 6446, TCP_SYN).seq(1, 0);
    let p = run(&ct, &data.emit(), &commit(4), 3);
    assert_eq!(st(&p), NEW | CS_RELATED);
    assert_eq!(p.md().ct.orig.tp_dst, 21, "the parent's tuple");
}

/// Active FTP over IPv6 through SNAT (NAT66), as OVS: the client's EPRT
/// address is rewritten to the translated one (5 bytes longer here), the
/// IPv6 payload length and TCP checksum follow, later sequence numbers
/// are shifted and acknowledgements shifted back, and the server's data
/// connection to the translated address is translated back to the client
/// by a bare `nat`.
#[test]
fn ftp_active_over_ipv6_through_snat_rewrites_eprt() {
    let ct = Conntrack::with_basis(1);
    let bare = CtAction {
        nat: Some(NatSpec::default()),
        ..track(4)
    };
    let ftp = CtAction {
        helper: Some(Alg::Ftp),
        nat: Some(NatSpec {
            kind: Some(NatKind::Src),
            min_addr: N6,
            ..NatSpec::default()
        }),
        ..commit(4)
    };
    let p = run(
        &ct,
        &tcp6(A6, 40000, B6, 21, TCP_SYN).seq(100, 0).emit(),
        &ftp,
        0,
    );
    assert_eq!(ip6(&p), (N6, B6, 40000, 21));
    let synack = tcp6(B6, 21, N6, 40000, TCP_SYN | TCP_ACK).seq(900, 101);
    assert_eq!(st(&run(&ct, &synack.emit(), &bare, 0)), RPL | CS_DST_NAT);
    let text = b"EPRT |2|2001:db8::1|50000|\r\n";
    let eprt = tcp_text(
        tcp6(A6, 40000, B6, 21, TCP_ACK | TCP_PSH).seq(101, 901),
        text,
    );
    let p = run(&ct, &eprt, &bare, 1);
    assert_eq!(st(&p), EST | CS_SRC_NAT);
    assert_eq!(&p.data()[74..], b"EPRT |2|2001:db8:ffff::1|50000|\r\n");
    assert_eq!(
        u16::from_be_bytes([p.data()[18], p.data()[19]]) as usize,
        20 + text.len() + 5,
        "payload length"
    );
    assert!(checksums_ok(p.data()));
    assert_eq!(tcp6_seq_ack(&p), (101, 901));
    assert_eq!(ct.n_expectations(), 1);
    let next = tcp_text(
        tcp6(A6, 40000, B6, 21, TCP_ACK | TCP_PSH).seq(101 + text.len() as u32, 901),
        b"RETR f\r\n",
    );
    let p = run(&ct, &next, &bare, 2);
    assert_eq!(tcp6_seq_ack(&p), (101 + text.len() as u32 + 5, 901));
    assert!(checksums_ok(p.data()));
    let ack = tcp6(B6, 21, N6, 40000, TCP_ACK).seq(901, 101 + text.len() as u32 + 5 + 8);
    let r = run(&ct, &ack.emit(), &bare, 2);
    assert_eq!(st(&r), RPL | CS_DST_NAT, "in window once shifted back");
    assert_eq!(ip6(&r), (B6, A6, 21, 40000));
    assert_eq!(tcp6_seq_ack(&r), (901, 101 + text.len() as u32 + 8));
    assert!(checksums_ok(r.data()));
    // The server connects to the translated address.
    let bare_commit = CtAction {
        nat: Some(NatSpec::default()),
        ..commit(4)
    };
    let data = tcp6(B6, 20, N6, 50000, TCP_SYN).seq(5, 0);
    let p = run(&ct, &data.emit(), &bare_commit, 3);
    assert_eq!(st(&p), NEW | CS_RELATED | CS_DST_NAT);
    assert_eq!(ip6(&p), (B6, A6, 20, 50000));
    assert!(checksums_ok(p.data()));
}

#[test]
fn ftp_active_and_passive_data_connections_are_related() {
    let ct = Conntrack::with_basis(1);
    let ftp = CtAction {
        helper: Some(Alg::Ftp),
        mark: Some(Masked::<u32>::exact(0x42)),
        ..commit(4)
    };
    run(
        &ct,
        &Pkt::tcp4(A, 40000, B, 21, TCP_SYN).seq(100, 0).emit(),
        &ftp,
        0,
    );
    let synack = Pkt::tcp4(B, 21, A, 40000, TCP_SYN | TCP_ACK).seq(900, 101);
    assert_eq!(st(&run(&ct, &synack.emit(), &track(4), 0)), RPL);
    // Active mode: the client announces 198.18.0.1:50000.
    let port = tcp_text(
        Pkt::tcp4(A, 40000, B, 21, TCP_ACK | TCP_PSH).seq(101, 901),
        b"PORT 198,18,0,1,195,80\r\n",
    );
    assert!(checksums_ok(&port));
    assert_eq!(st(&run(&ct, &port, &track(4), 1)), EST);
    assert_eq!(ct.n_expectations(), 1);
    // The server's data connection from port 20: new|rel, then est|rel.
    let data = Pkt::tcp4(B, 20, A, 50000, TCP_SYN).seq(5, 0);
    let p = run(&ct, &data.emit(), &commit(4), 2);
    assert_eq!(st(&p), NEW | CS_RELATED);
    assert_eq!(p.md().ct.mark, 0x42, "inherits the parent's mark");
    assert_eq!(p.md().ct.orig.tp_dst, 21, "reports the parent's tuple");
    assert_eq!(ct.n_expectations(), 0);
    let back = Pkt::tcp4(A, 50000, B, 20, TCP_SYN | TCP_ACK).seq(77, 6);
    assert_eq!(st(&run(&ct, &back.emit(), &track(4), 2)), RPL | CS_RELATED);
    // A connection to a port nobody announced is not related.
    let other = Pkt::tcp4(B, 20, A, 50001, TCP_SYN).seq(5, 0);
    assert_eq!(st(&run(&ct, &other.emit(), &commit(4), 2)), NEW);
    // Passive mode: the server's 227 reply.
    let pasv = tcp_text(
        Pkt::tcp4(B, 21, A, 40000, TCP_ACK | TCP_PSH).seq(901, 125),
        b"227 Entering Passive Mode (198,19,0,2,39,16).\r\n",
    );
    assert_eq!(st(&run(&ct, &pasv, &track(4), 3)), RPL);
    let data = Pkt::tcp4(A, 41000, B, 10000, TCP_SYN).seq(1, 0);
    assert_eq!(st(&run(&ct, &data.emit(), &track(5), 3)), NEW, "zone 5");
    assert_eq!(st(&run(&ct, &data.emit(), &commit(4), 3)), NEW | CS_RELATED);
    // Expectations expire with the sweep.
    let port = tcp_text(
        Pkt::tcp4(A, 40000, B, 21, TCP_ACK | TCP_PSH).seq(125, 949),
        b"PORT 198,18,0,1,195,81\r\n",
    );
    run(&ct, &port, &track(4), 4);
    assert_eq!(ct.n_expectations(), 1);
    ct.sweep(4 + alg::EXPECTATION_MS);
    assert_eq!(ct.n_expectations(), 0);
}

#[test]
fn tftp_reply_from_another_port_is_related() {
    let ct = Conntrack::with_basis(1);
    let tftp = CtAction {
        helper: Some(Alg::Tftp),
        ..commit(0)
    };
    let rrq = Pkt::udp4(A, 3333, B, 69).with_payload(12);
    assert_eq!(st(&run(&ct, &rrq.emit(), &tftp, 0)), NEW);
    let data = Pkt::udp4(B, 45000, A, 3333).with_payload(100);
    let p = run(&ct, &data.emit(), &commit(0), 1);
    assert_eq!(st(&p), NEW | CS_RELATED);
    let ack = Pkt::udp4(A, 3333, B, 45000).with_payload(4);
    assert_eq!(st(&run(&ct, &ack.emit(), &track(0), 1)), RPL | CS_RELATED);
}

fn tcp_seq_ack(p: &DpPacket) -> (u32, u32) {
    let d = p.data();
    (
        u32::from_be_bytes(d[38..42].try_into().unwrap()),
        u32::from_be_bytes(d[42..46].try_into().unwrap()),
    )
}

#[test]
fn ftp_active_through_snat_rewrites_port_and_shifts_sequence_numbers() {
    let ct = Conntrack::with_basis(1);
    let bare = CtAction {
        nat: Some(NatSpec::default()),
        ..track(4)
    };
    let ftp = CtAction {
        helper: Some(Alg::Ftp),
        nat: Some(snat_to(N, 0, 0)),
        ..commit(4)
    };
    let p = run(
        &ct,
        &Pkt::tcp4(A, 40000, B, 21, TCP_SYN).seq(100, 0).emit(),
        &ftp,
        0,
    );
    assert_eq!(ip4(&p), (N, B, 40000, 21));
    let synack = Pkt::tcp4(B, 21, N, 40000, TCP_SYN | TCP_ACK).seq(900, 101);
    assert_eq!(st(&run(&ct, &synack.emit(), &bare, 0)), RPL | CS_DST_NAT);
    // PORT 198.18.0.1 (10 characters) becomes PORT 198.19.255.1 (12).
    let port = tcp_text(
        Pkt::tcp4(A, 40000, B, 21, TCP_ACK | TCP_PSH).seq(101, 901),
        b"PORT 198,18,0,1,195,80\r\n",
    );
    let p = run(&ct, &port, &bare, 1);
    assert_eq!(st(&p), EST | CS_SRC_NAT);
    assert_eq!(&p.data()[54..], b"PORT 198,19,255,1,195,80\r\n");
    assert_eq!(
        u16::from_be_bytes([p.data()[16], p.data()[17]]),
        20 + 20 + 26
    );
    assert!(checksums_ok(p.data()));
    assert_eq!(tcp_seq_ack(&p), (101, 901));
    // The client's next bytes are 2 further on in the server's view, and
    // the server's acknowledgement of them 2 back in the client's.
    let next = tcp_text(
        Pkt::tcp4(A, 40000, B, 21, TCP_ACK | TCP_PSH).seq(125, 901),
        b"RETR f\r\n",
    );
    let p = run(&ct, &next, &bare, 2);
    assert_eq!(tcp_seq_ack(&p), (127, 901));
    assert!(checksums_ok(p.data()));
    let ack = Pkt::tcp4(B, 21, N, 40000, TCP_ACK).seq(901, 135);
    let r = run(&ct, &ack.emit(), &bare, 2);
    assert_eq!(
        st(&r),
        RPL | CS_DST_NAT,
        "the shifted acknowledgement is in window"
    );
    assert_eq!(ip4(&r), (B, A, 21, 40000));
    assert_eq!(tcp_seq_ack(&r), (901, 133));
    assert!(checksums_ok(r.data()));
    // The server connects to the translated address; the data
    // connection is translated back to the client by a bare nat.
    let bare_commit = CtAction {
        nat: Some(NatSpec::default()),
        ..commit(4)
    };
    let data = Pkt::tcp4(B, 20, N, 50000, TCP_SYN).seq(5, 0);
    let p = run(&ct, &data.emit(), &bare_commit, 3);
    assert_eq!(st(&p), NEW | CS_RELATED | CS_DST_NAT);
    assert_eq!(ip4(&p), (B, A, 20, 50000));
    assert!(checksums_ok(p.data()));
}

/// SNAT of a datagram that came in three fragments: the tracker sees the
/// reassembled datagram, and every fragment sent on carries the
/// translation (new source address and header checksum in each, new
/// source port and UDP checksum in the first), so a receiver reassembles
/// exactly the translated datagram; its reply maps back to the original.
#[test]
fn snat_of_a_fragmented_datagram_reaches_every_fragment() {
    use super::frame::fragments;
    use crate::wire::be32;
    use crate::wire::checksum::checksum;
    let ct = Conntrack::with_basis(7);
    let p = Pkt::udp4(A, 4000, B, 53).with_payload(3000);
    let snat = CtAction {
        zone: 3,
        commit: true,
        nat: Some(NatSpec {
            kind: Some(NatKind::Src),
            min_addr: N as u128,
            min_port: 20000,
            max_port: 20000,
            ..NatSpec::default()
        }),
        ..CtAction::default()
    };
    let mut done = None;
    for f in fragments(&p, 1480, 42) {
        match ct.ipf().add(DpPacket::from_bytes(&f), 14, 3, 0) {
            ipf::FragResult::Held => {}
            ipf::FragResult::Complete(w, fr) => done = Some((w, fr)),
            ipf::FragResult::Invalid(_) => panic!("fragment refused"),
        }
    }
    let (mut whole, mut frags) = done.expect("reassembled");
    run_pkt(&ct, &mut whole, &snat, 0);
    assert_ne!(st(&whole) & CS_SRC_NAT, 0, "translated");
    assert_eq!(be32(whole.data(), 26), N);
    let before: Vec<Vec<u8>> = frags.iter().map(|f| f.data().to_vec()).collect();
    ipf::translate_fragments(&whole, &mut frags, 14);
    for (f, b) in frags.iter().zip(&before) {
        let d = f.data();
        assert_eq!(be32(d, 26), N, "source address of every fragment");
        assert_eq!(be32(d, 30), B);
        assert_eq!(checksum(&d[14..34]), 0, "header checksum");
        assert_eq!(d[18..22], b[18..22], "IP id and fragment offset kept");
        assert_eq!(d.len(), b.len());
    }
    assert_eq!(
        u16::from_be_bytes([frags[0].data()[34], frags[0].data()[35]]),
        20000
    );
    assert_eq!(
        frags[1].data()[34..],
        before[1][34..],
        "later payloads untouched"
    );
    // A receiver reassembles the translated datagram, checksums right.
    let rx = ipf::Ipf::default();
    let mut again = None;
    for f in frags {
        if let ipf::FragResult::Complete(w, _) = rx.add(f, 14, 0, 0) {
            again = Some(w);
        }
    }
    let again = again.expect("receiver reassembles");
    assert_eq!(again.data()[26..], whole.data()[26..]);
    assert!(checksums_ok(again.data()), "UDP checksum over the whole");
    // The reply, to the translated address and port, maps back.
    let reply = run(
        &ct,
        &Pkt::udp4(B, 53, N, 20000).emit(),
        &CtAction {
            zone: 3,
            nat: Some(NatSpec::default()),
            ..CtAction::default()
        },
        1,
    );
    assert_ne!(st(&reply) & CS_REPLY_DIR, 0);
    assert_eq!(be32(reply.data(), 30), A);
    assert_eq!(
        u16::from_be_bytes([reply.data()[36], reply.data()[37]]),
        4000
    );
}

/// The sizes the memory per connection depends on (a connection holds
/// three keys, the table two more per connection).
#[test]
fn key_and_connection_sizes() {
    assert_eq!(std::mem::size_of::<key::ConnKey>(), 44);
    assert_eq!(std::mem::align_of::<key::ConnKey>(), 4);
    assert!(
        std::mem::size_of::<conn::Conn>() <= 240,
        "{}",
        std::mem::size_of::<conn::Conn>()
    );
}

const V6A: u128 = 0x2001_0db8_u128 << 96 | 4; // 2001:db8::4
const V6B: u128 = 0x2001_0db8_u128 << 96 | 1; // 2001:db8::1

fn udp6(src: u128, sport: u16, dst: u128, dport: u16) -> Pkt {
    Pkt {
        src,
        dst,
        ..Pkt::udp4(0, sport, 0, dport).v6().with_payload(20)
    }
}

/// The fuzz crash of issue 16 in plain code: a TFTP request over IPv6,
/// then its reply with `force`, which replaces the request's connection.
/// The expectation the request announced died with it, so the forced
/// connection is a plain new one reporting its own tuple, not one
/// related to the deleted parent.
#[test]
fn forced_reply_does_not_take_the_replaced_parents_expectation() {
    let ct = Conntrack::with_basis(7);
    let tftp = |zone| CtAction {
        helper: Some(Alg::Tftp),
        force: true,
        nat: Some(NatSpec::default()),
        ..commit(zone)
    };
    let rrq = udp6(V6A, 1005, V6B, 1005);
    // The same request committed in zone 3 with SNAT: another zone's
    // connection with the same addresses.
    let snat3 = CtAction {
        nat: Some(NatSpec {
            kind: Some(NatKind::Src),
            v6: true,
            min_addr: V6A + 0x10,
            min_port: 1000,
            max_port: 1003,
            random: true,
            ..NatSpec::default()
        }),
        ..tftp(3)
    };
    let p = run(&ct, &rrq.emit(), &snat3, 0);
    assert_eq!(st(&p), NEW | CS_SRC_NAT);
    let p = run(&ct, &rrq.emit(), &tftp(1), 0);
    assert_eq!(st(&p), NEW);
    assert_eq!(ct.n_expectations(), 2);
    assert_eq!(ct.n_conns(), 2);
    // The reply in zone 1, forced: the request's connection goes, and
    // with it its expectation (which this very packet matches).
    let reply = udp6(V6B, 1005, V6A, 1005);
    let p = run(&ct, &reply.emit(), &tftp(1), 1);
    assert_eq!(st(&p), NEW, "not related to the connection it replaced");
    assert_eq!(p.md().ct.zone, 1);
    let o = p.md().ct.orig;
    assert_eq!((o.ipv6_src, o.ipv6_dst, o.tp_src), (V6B, V6A, 1005));
    assert_eq!(ct.n_conns(), 2);
    let mut zones = Vec::new();
    ct.table().for_each(|c| {
        assert!(c.parent.is_none());
        zones.push((c.fwd.zone, c.fwd.src.addr));
    });
    zones.sort();
    assert_eq!(zones, [(1, V6B), (3, V6A)]);
    // Zone 3's expectation and the forced connection's own are left.
    assert_eq!(ct.n_expectations(), 2);
}

#[test]
fn expectations_die_with_their_parent() {
    let tftp = CtAction {
        helper: Some(Alg::Tftp),
        ..commit(2)
    };
    let rrq = Pkt::udp4(A, 3333, B, 69).with_payload(12);
    let data = Pkt::udp4(B, 45000, A, 3333).with_payload(100);
    // Flushed with its zone.
    let ct = Conntrack::with_basis(1);
    run(&ct, &rrq.emit(), &tftp, 0);
    assert_eq!(ct.n_expectations(), 1);
    ct.flush(Some(2), None);
    assert_eq!(ct.n_expectations(), 0);
    assert_eq!(st(&run(&ct, &data.emit(), &commit(2), 1)), NEW);
    // Expired (zone 2's policy: UDP first packet 30 s), before and after
    // the sweep: the expectation (60 s) is not taken once its parent is
    // gone.
    let ct = Conntrack::with_basis(1);
    let mut t = ZoneTimeouts::default();
    let mut z2 = Timeouts::default();
    assert!(z2.set_by_name("udp_first", 30));
    t.zones.insert(2, z2);
    ct.set_timeouts(t);
    run(&ct, &rrq.emit(), &tftp, 0);
    let late = 40_000;
    let p = run(&ct, &data.emit(), &track(2), late);
    assert_eq!(st(&p), NEW, "parent expired, not yet swept");
    assert_eq!(ct.sweep(late), 1);
    assert_eq!(ct.n_expectations(), 0);
    // Replaced by a reopening SYN (FTP control connection).
    let ct = Conntrack::with_basis(1);
    let ftp = CtAction {
        helper: Some(Alg::Ftp),
        ..commit(2)
    };
    run(
        &ct,
        &Pkt::tcp4(A, 40000, B, 21, TCP_SYN).seq(100, 0).emit(),
        &ftp,
        0,
    );
    let synack = Pkt::tcp4(B, 21, A, 40000, TCP_SYN | TCP_ACK).seq(900, 101);
    run(&ct, &synack.emit(), &track(2), 0);
    let port = tcp_text(
        Pkt::tcp4(A, 40000, B, 21, TCP_ACK | TCP_PSH).seq(101, 901),
        b"PORT 198,18,0,1,195,80\r\n",
    );
    assert_eq!(st(&run(&ct, &port, &track(2), 1)), EST);
    assert_eq!(ct.n_expectations(), 1);
    let fin = Pkt::tcp4(A, 40000, B, 21, TCP_FIN | TCP_ACK).seq(125, 901);
    run(&ct, &fin.emit(), &track(2), 2);
    let fin = Pkt::tcp4(B, 21, A, 40000, TCP_FIN | TCP_ACK).seq(901, 126);
    run(&ct, &fin.emit(), &track(2), 2);
    let ack = Pkt::tcp4(A, 40000, B, 21, TCP_ACK).seq(126, 902);
    run(&ct, &ack.emit(), &track(2), 2);
    let syn = Pkt::tcp4(A, 40000, B, 21, TCP_SYN).seq(5000, 0);
    assert_eq!(st(&run(&ct, &syn.emit(), &ftp, 3)), NEW, "reopened");
    assert_eq!(ct.n_expectations(), 0);
    let data = Pkt::tcp4(B, 20, A, 50000, TCP_SYN).seq(5, 0);
    assert_eq!(st(&run(&ct, &data.emit(), &commit(2), 3)), NEW);
}

/// As OVS: a connection an ALG expected reports its parent's tuple, also
/// after the parent is gone; a related packet not committed reports the
/// parent's tuple, mark and label.
#[test]
fn related_packets_report_their_parent() {
    let ct = Conntrack::with_basis(1);
    let tftp = CtAction {
        helper: Some(Alg::Tftp),
        mark: Some(Masked::<u32>::exact(7)),
        ..commit(2)
    };
    let rrq = Pkt::udp4(A, 3333, B, 69).with_payload(12);
    run(&ct, &rrq.emit(), &tftp, 0);
    let data = Pkt::udp4(B, 45000, A, 3333).with_payload(100);
    let p = run(&ct, &data.emit(), &track(2), 1);
    assert_eq!(st(&p), NEW | CS_RELATED);
    assert_eq!(p.md().ct.mark, 7);
    assert_eq!((p.md().ct.orig.ipv4_src, p.md().ct.orig.tp_dst), (A, 69));
    assert_eq!(ct.n_expectations(), 1, "peeked, not taken");
    let p = run(&ct, &data.emit(), &commit(2), 1);
    assert_eq!(st(&p), NEW | CS_RELATED);
    assert_eq!(ct.n_expectations(), 0);
    // The parent flushed by its tuple: the child still reports it.
    let parent = key::extract(&rrq.emit(), 14, false, 2).unwrap().key;
    assert_eq!(ct.flush(None, Some(&parent)), 1);
    let ack = Pkt::udp4(A, 3333, B, 45000).with_payload(4);
    let p = run(&ct, &ack.emit(), &track(2), 2);
    assert_eq!(st(&p), RPL | CS_RELATED);
    assert_eq!((p.md().ct.orig.ipv4_src, p.md().ct.orig.tp_dst), (A, 69));
}

/// Runs the fragments of one datagram through reassembly and the
/// tracker, as the datapath does; the reassembled datagram's state.
fn run_fragments(ct: &Conntrack, frags: &[Vec<u8>], a: &CtAction, now: u64) -> u16 {
    let mut state = None;
    for f in frags {
        match ct.ipf().add(DpPacket::from_bytes(f), 14, a.zone, now) {
            ipf::FragResult::Held => {}
            ipf::FragResult::Complete(mut whole, _) => {
                run_pkt(ct, &mut whole, a, now);
                state = Some(st(&whole));
            }
            ipf::FragResult::Invalid(_) => panic!("fragment refused"),
        }
    }
    state.expect("reassembled")
}

/// An FTP control segment that came in fragments (IPv4 PORT, IPv6
/// EPRT): reassembled first, its announcement is read whole and the data
/// connection is related.
#[test]
fn ftp_announcement_in_a_fragmented_control_segment() {
    use super::frame::{fragment_frame, fragment_frame6};
    let ct = Conntrack::with_basis(3);
    let ftp = CtAction {
        helper: Some(Alg::Ftp),
        ..commit(2)
    };
    let noops = b"NOOP\r\n".repeat(400);
    // IPv4.
    run(
        &ct,
        &Pkt::tcp4(A, 40000, B, 21, TCP_SYN).seq(100, 0).emit(),
        &ftp,
        0,
    );
    let synack = Pkt::tcp4(B, 21, A, 40000, TCP_SYN | TCP_ACK).seq(900, 101);
    run(&ct, &synack.emit(), &track(2), 0);
    let text = [&b"PORT 198,18,0,1,195,80\r\n"[..], &noops].concat();
    let seg = tcp_text(
        Pkt::tcp4(A, 40000, B, 21, TCP_ACK | TCP_PSH).seq(101, 901),
        &text,
    );
    let frags = fragment_frame(&seg, 1480, 77);
    assert_eq!(frags.len(), 2);
    assert_eq!(run_fragments(&ct, &frags, &track(2), 1), EST);
    assert_eq!(ct.n_expectations(), 1);
    let data = Pkt::tcp4(B, 20, A, 50000, TCP_SYN).seq(5, 0);
    assert_eq!(st(&run(&ct, &data.emit(), &commit(2), 2)), NEW | CS_RELATED);
    // IPv6.
    run(
        &ct,
        &tcp6(A6, 40000, B6, 21, TCP_SYN).seq(100, 0).emit(),
        &ftp,
        0,
    );
    let synack = tcp6(B6, 21, A6, 40000, TCP_SYN | TCP_ACK).seq(900, 101);
    run(&ct, &synack.emit(), &track(2), 0);
    let text = [&b"EPRT |2|2001:db8::1|50001|\r\n"[..], &noops].concat();
    let seg = tcp_text(
        tcp6(A6, 40000, B6, 21, TCP_ACK | TCP_PSH).seq(101, 901),
        &text,
    );
    let frags = fragment_frame6(&seg, 1448, 78);
    assert_eq!(frags.len(), 2);
    assert_eq!(run_fragments(&ct, &frags, &track(2), 1), EST);
    let data = tcp6(B6, 20, A6, 50001, TCP_SYN).seq(5, 0);
    assert_eq!(st(&run(&ct, &data.emit(), &commit(2), 2)), NEW | CS_RELATED);
}
