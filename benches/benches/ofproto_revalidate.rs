//! `ofproto/revalidate_100k_megaflows`: one revalidation round over
//! 100,000 installed megaflows after a flow-mod (the target: under
//! 0.5 s). The bridge has a 4-table pipeline (table 0: 64 `/24` routes
//! that set a register and resubmit; table 1: a MAC rewrite per /20;
//! table 2: output by register; table 3: a catch-all); the megaflows are
//! what translation makes for 100,000 distinct destinations (their masks
//! widened to the exact destination so that each is its own megaflow),
//! installed with `flow_put`. Each iteration adds a flow (a flow-mod in a
//! table the packets never reach: every megaflow stays) and runs
//! `OfprotoUpcall::revalidate`: dump, re-translate every megaflow, compare
//! actions and masks, push counters, sweep recirculation ids. Figures are
//! per round.
//!
//! `ofproto/revalidate_100k_unchanged`: the same megaflows, a round with
//! nothing changed and no traffic (an idle switch's tick: dump, idle
//! check, no translation).
use std::sync::{Arc, Mutex};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use ferrovs_datapath::dpif::{DpConfig, FlowPut};
use ferrovs_datapath::flow::layout as dp;
use ferrovs_datapath::flow::Flow;
use ferrovs_datapath::Datapath;
use ferrovs_ofproto::upcall::{Bridge, OfprotoUpcall};
use ferrovs_ofproto::xlate::XPort;
use ferrovs_ofproto::{Ofproto, OfprotoConfig};

const N: u32 = 100_000;

fn setup() -> (Arc<OfprotoUpcall>, Datapath, Arc<Mutex<Ofproto>>) {
    let mut of = Ofproto::new(OfprotoConfig::new("br0", 1));
    for i in 0..64u32 {
        of.add_flow_text(&format!(
            "table=0,priority=10,in_port=1,ip,nw_dst=198.18.{}.0/24 actions=load:{}->NXM_NX_REG0[],resubmit(,1)",
            i * 2,
            2 + i % 3
        ))
        .unwrap();
    }
    of.add_flow_text("table=0,priority=0,in_port=1,ip actions=load:2->NXM_NX_REG0[],resubmit(,1)")
        .unwrap();
    for i in 0..32u32 {
        of.add_flow_text(&format!(
            "table=1,priority=10,ip,nw_dst=198.{}.{}.0/20 actions=mod_dl_dst:02:00:00:00:00:{:02x},resubmit(,2)",
            18 + i / 16,
            (i % 16) * 16,
            i
        ))
        .unwrap();
    }
    of.add_flow_text("table=1,priority=0 actions=resubmit(,2)")
        .unwrap();
    for p in 2..=4u32 {
        of.add_flow_text(&format!("table=2,reg0={p} actions=output:{p}"))
            .unwrap();
    }
    of.add_flow_text("table=3,priority=0 actions=drop").unwrap();
    let of = Arc::new(Mutex::new(of));
    let br = Bridge::new(of.clone());
    for p in 1..=4u16 {
        br.set_port(
            p,
            XPort {
                name: format!("p{p}"),
                dp_port: Some(p as u32),
                ..Default::default()
            },
        );
    }
    let up = OfprotoUpcall::new();
    up.add_bridge(br);
    let cfg = DpConfig {
        flow_limit: 2 * N as usize,
        ..Default::default()
    };
    let dpif = Datapath::new(cfg, up.clone());
    let mut f = Flow::default();
    f.set(dp::IN_PORT, 1);
    f.set(dp::DL_SRC, 0x0000_0000_0001);
    f.set(dp::DL_DST, 0x0000_0000_0002);
    f.set(dp::DL_TYPE, 0x0800);
    f.set(dp::NW_PROTO, 17);
    f.set(dp::NW_TTL, 64);
    f.set(dp::NW_SRC, 0xc612_0001);
    for i in 0..N {
        f.set(dp::NW_DST, 0xc612_0000 + i as u64);
        let t = up.translate(&f, false, 0).expect("translates");
        let mut mask = t.wc.to_dp();
        mask.set_all(dp::IN_PORT);
        mask.set_all(dp::NW_DST);
        dpif.flow_put(FlowPut {
            key: f.to_key(),
            mask: mask.to_key(),
            actions: t.actions,
            pmd: None,
            ufid: None,
        })
        .expect("flow_put");
    }
    assert_eq!(dpif.flow_count(), N as usize);
    (up, dpif, of)
}

fn revalidate(c: &mut Criterion) {
    let (up, dpif, of) = setup();
    let mut n = 0u32;
    let mut g = c.benchmark_group("ofproto");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.bench_function("revalidate_100k_megaflows", |b| {
        b.iter(|| {
            n += 1;
            of.lock()
                .unwrap()
                .add_flow_text(&format!(
                    "table=3,priority=5,udp,tp_dst={} actions=drop",
                    n % 60000
                ))
                .unwrap();
            let st = up.revalidate(&dpif, u64::MAX);
            assert_eq!((st.checked, st.deleted_stale), (N as usize, 0));
        })
    });
    g.bench_function("revalidate_100k_unchanged", |b| {
        b.iter(|| {
            let st = up.revalidate(&dpif, u64::MAX);
            assert_eq!((st.checked, st.translated), (N as usize, 0));
        })
    });
    g.finish();
}

criterion_group!(benches, revalidate);
criterion_main!(benches);
