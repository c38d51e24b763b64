//! Criterion benchmarks for the connection tracker, on one core.
//!
//! The tracker is called as the `ct` action calls it (flow extraction for
//! the offsets, then `Conntrack::execute`) on frames prepared outside the
//! timed loop; the packet buffer is refilled from the frame each time
//! (a 60-byte copy, part of every figure).
//!
//! - `conntrack/new_conn/{plain,snat}`: every packet a TCP SYN of a new
//!   connection, committed (with SNAT to a pool of 256 addresses);
//!   the tracker is flushed outside the timed loop every 200,000
//!   connections. Throughput in connections.
//! - `conntrack/established/{plain,nat}`: 10,000 established UDP
//!   connections, packets in both directions round robin, `ct(zone=1)` or
//!   `ct(zone=1,nat)` (translated both ways). Throughput in packets.
//! - `conntrack/fragments/{v4_snat,v6}`: 3,000-byte UDP datagrams of
//!   1,024 connections arriving as three fragments each: reassembly,
//!   tracking of the whole (committed with SNAT for IPv4) and, for
//!   IPv4, the translation copied into the fragments. Throughput in
//!   datagrams.
//! - `conntrack/datapath/{new_conn,established}`: the whole datapath
//!   path of a `ct(table=..)` firewall (`ferrovs_benches::ct_rig`): a
//!   PMD driven inline, 32 packets per poll, each extracted, classified,
//!   tracked, recirculated, classified again and (new connections)
//!   committed, as `ferrovs bench --conntrack` runs it on veths but
//!   without the port I/O. Throughput in packets (one packet is one new
//!   connection in `new_conn`).
//! - `conntrack/sweep_1m`: one expiry sweep over 1,000,000 connections
//!   none of which has expired (the control thread's cost per pass). Its
//!   setup prints the resident memory per connection at 1M connections.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ferrovs_benches::ct_rig::{CtCase, CtRig};
use ferrovs_benches::datapath_rig::N;
use ferrovs_datapath::conntrack::frame::{fragments, fragments6, Pkt};
use ferrovs_datapath::conntrack::ipf::{translate_fragments, FragResult};
use ferrovs_datapath::conntrack::key::TCP_SYN;
use ferrovs_datapath::conntrack::{Conntrack, CtAction, NatKind, NatSpec};
use ferrovs_datapath::flow::layout::DL_TYPE;
use ferrovs_datapath::flow::{extract, FlowKey};
use ferrovs_datapath::packet::DpPacket;
use ferrovs_datapath::random::Rng;

const BASE: u32 = 0xc612_0000; // 198.18.0.0
const SERVER: u32 = 0xc613_0001;
const NAT_ADDR: u32 = 0xc613_ff01;

struct Runner {
    ct: Conntrack,
    key: FlowKey,
    pkt: DpPacket,
    rng: Rng,
}

impl Runner {
    fn new() -> Runner {
        let ct = Conntrack::with_basis(0x1234);
        ct.limits().set_max_conns(10_000_000);
        Runner {
            ct,
            key: FlowKey::default(),
            pkt: DpPacket::new(),
            rng: Rng::new(1),
        }
    }
    #[inline]
    fn run(&mut self, frame: &[u8], a: &CtAction, now: u64) -> u16 {
        self.pkt.set_data(frame);
        self.pkt.reset_md(1);
        extract(&mut self.pkt, &mut self.key);
        let dl = self.key.get(DL_TYPE);
        self.ct
            .execute(&mut self.pkt, dl == 0x0800, false, a, now, &mut self.rng);
        self.pkt.md().ct.state
    }
}

fn syn(i: u32) -> Vec<u8> {
    Pkt::tcp4(
        BASE + (i >> 12),
        1024 + (i & 0xfff) as u16,
        SERVER,
        80,
        TCP_SYN,
    )
    .seq(i, 0)
    .emit()
}

fn new_conn(c: &mut Criterion) {
    let mut g = c.benchmark_group("conntrack/new_conn");
    g.throughput(Throughput::Elements(1));
    const FLUSH: u32 = 200_000;
    let frames: Vec<Vec<u8>> = (0..FLUSH).map(syn).collect();
    let plain = CtAction {
        zone: 1,
        commit: true,
        ..CtAction::default()
    };
    // A router's pool of 256 external addresses: the tuple space is far
    // from full, as in practice (one address for 200,000 connections to
    // one server port would exhaust its 64,512 ports and measure only
    // the search for a free one).
    let snat = CtAction {
        nat: Some(NatSpec {
            kind: Some(NatKind::Src),
            min_addr: (NAT_ADDR & !0xff) as u128,
            max_addr: (NAT_ADDR | 0xff) as u128,
            ..NatSpec::default()
        }),
        ..plain.clone()
    };
    for (name, a) in [("plain", plain), ("snat", snat)] {
        let mut r = Runner::new();
        let mut i = 0u32;
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut t = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    if i == FLUSH {
                        r.ct.flush(None, None);
                        i = 0;
                    }
                    let n = left.min((FLUSH - i) as u64);
                    let start = Instant::now();
                    for f in &frames[i as usize..i as usize + n as usize] {
                        std::hint::black_box(r.run(f, &a, 0));
                    }
                    t += start.elapsed();
                    i += n as u32;
                    left -= n;
                }
                t
            })
        });
    }
    g.finish();
}

/// `ct(commit,zone=1,nat(src=NAT_ADDR))` and the same without NAT.
fn commit_snat() -> (CtAction, CtAction) {
    let snat = CtAction {
        zone: 1,
        commit: true,
        nat: Some(NatSpec {
            kind: Some(NatKind::Src),
            min_addr: NAT_ADDR as u128,
            ..NatSpec::default()
        }),
        ..CtAction::default()
    };
    let commit = CtAction {
        nat: None,
        ..snat.clone()
    };
    (snat, commit)
}

fn established(c: &mut Criterion) {
    let mut g = c.benchmark_group("conntrack/established");
    g.throughput(Throughput::Elements(1));
    const CONNS: u32 = 10_000;
    let (commit_nat, commit) = commit_snat();
    let track = CtAction {
        zone: 1,
        ..CtAction::default()
    };
    let track_nat = CtAction {
        nat: Some(NatSpec::default()),
        ..track.clone()
    };
    for (name, c, t) in [("plain", commit, track), ("nat", commit_nat, track_nat)] {
        let mut r = Runner::new();
        let mut frames = Vec::new();
        for i in 0..CONNS {
            let fwd = Pkt::udp4(BASE + i, 5000, SERVER, 53).with_payload(18);
            r.run(&fwd.emit(), &c, 0);
            // The reply as it arrives (to the translated address and port).
            let d = r.pkt.data();
            let (src, sport) = (
                u32::from_be_bytes(d[26..30].try_into().unwrap()),
                u16::from_be_bytes([d[34], d[35]]),
            );
            let rev = Pkt::udp4(SERVER, 53, src, sport).with_payload(18).emit();
            assert_ne!(r.run(&rev, &t, 0) & 0x08, 0, "reply direction");
            frames.push(fwd.emit());
            frames.push(rev);
        }
        let mut k = 0usize;
        g.bench_function(name, |b| {
            b.iter(|| {
                let s = r.run(&frames[k], &t, 1);
                k += 1;
                if k == frames.len() {
                    k = 0;
                }
                s
            })
        });
    }
    g.finish();
}

fn fragmented(c: &mut Criterion) {
    let mut g = c.benchmark_group("conntrack/fragments");
    g.throughput(Throughput::Elements(1));
    const CONNS: u32 = 1024;
    let (snat, commit) = commit_snat();
    let v6 = |a: u32| 0x2001_0db8_u128 << 96 | a as u128;
    // Per datagram, its fragments' frames.
    type Datagrams = Vec<Vec<Vec<u8>>>;
    let cases: [(&str, CtAction, Datagrams); 2] = [
        (
            "v4_snat",
            snat,
            (0..CONNS)
                .map(|i| {
                    let p = Pkt::udp4(BASE + i, 5000, SERVER, 53).with_payload(3000);
                    fragments(&p, 1480, i as u16)
                })
                .collect(),
        ),
        (
            "v6",
            commit,
            (0..CONNS)
                .map(|i| {
                    let p = Pkt {
                        src: v6(BASE + i),
                        dst: v6(SERVER),
                        ..Pkt::udp4(0, 5000, 0, 53)
                    }
                    .v6()
                    .with_payload(3000);
                    fragments6(&p, 1448, i)
                })
                .collect(),
        ),
    ];
    for (name, a, datagrams) in cases {
        let mut r = Runner::new();
        let mut k = 0usize;
        let mut frags_out = 0usize;
        let mut iterations = 0usize;
        g.bench_function(name, |b| {
            b.iter(|| {
                iterations += 1;
                for f in &datagrams[k] {
                    let mut p = DpPacket::from_bytes(f);
                    p.reset_md(1);
                    extract(&mut p, &mut r.key);
                    match r.ct.ipf().add(p, 14, a.zone, 0) {
                        FragResult::Held => {}
                        FragResult::Invalid(_) => panic!("fragment refused"),
                        FragResult::Complete(mut whole, mut frags) => {
                            extract(&mut whole, &mut r.key);
                            let v6 = r.key.get(DL_TYPE) == 0x86dd;
                            r.ct.execute(&mut whole, true, v6, &a, 0, &mut r.rng);
                            translate_fragments(&whole, &mut frags, 14);
                            frags_out += frags.len();
                        }
                    }
                }
                k = (k + 1) % datagrams.len();
            })
        });
        // A run filtered to other benchmarks never iterates this one.
        assert!(
            iterations == 0 || frags_out > 0,
            "{name}: no datagram completed"
        );
    }
    g.finish();
}

/// Resident set size of this process (Linux `/proc/self/statm`).
fn rss_bytes() -> u64 {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = s
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn sweep(c: &mut Criterion) {
    let mut g = c.benchmark_group("conntrack");
    g.sample_size(10);
    let mut r = Runner::new();
    let commit = CtAction {
        zone: 1,
        commit: true,
        ..CtAction::default()
    };
    let rss0 = rss_bytes();
    for i in 0..1_000_000u32 {
        let f = Pkt::udp4(BASE + (i >> 8), 1024 + (i & 0xff) as u16, SERVER, 53).emit();
        r.run(&f, &commit, 0);
    }
    assert_eq!(r.ct.n_conns(), 1_000_000);
    let rss1 = rss_bytes();
    eprintln!(
        "conntrack: resident memory per connection at 1M connections: {} bytes",
        rss1.saturating_sub(rss0) / 1_000_000
    );
    g.bench_function("sweep_1m", |b| b.iter(|| r.ct.sweep(1)));
    g.finish();
}

fn datapath_path(c: &mut Criterion) {
    let mut g = c.benchmark_group("conntrack/datapath");
    g.throughput(Throughput::Elements(N as u64));
    for (name, case) in [
        ("new_conn", CtCase::NewConn),
        ("established", CtCase::Established),
    ] {
        let mut r = CtRig::new(case).unwrap();
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut t = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    if r.due() {
                        r.flush();
                    }
                    let n = left.min(1024);
                    let start = Instant::now();
                    for _ in 0..n {
                        std::hint::black_box(r.pass());
                    }
                    t += start.elapsed();
                    left -= n;
                }
                t
            })
        });
        if r.rig.dp.stats().rx_packets > 0 {
            r.check().unwrap();
        }
    }
    g.finish();
}

criterion_group!(
    benches,
    new_conn,
    established,
    datapath_path,
    fragmented,
    sweep
);
criterion_main!(benches);
