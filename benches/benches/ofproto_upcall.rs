//! `ofproto/upcall_10_tables_normal`: upcall handling with translation,
//! one core: `OfprotoUpcall::miss` (expand the key, map the port, lock the
//! bridge, translate, build the megaflow mask) for a stream of packets that
//! each need a new megaflow. The pipeline has 10 tables: tables 0..8 each
//! hold 16 `ip,nw_dst=198.18.T.x/28` rules that load a register and go on,
//! plus a priority-0 `goto_table`; table 9 is `actions=NORMAL` (MAC
//! learning, flood within the VLAN of an access port to 4 ports). Every
//! packet has a new destination MAC (NORMAL un-wildcards it), so every miss
//! is a new megaflow; throughput in upcalls (new megaflows) per second
//! of the bench thread's CPU time (`FERROVS_BENCH_WALL=1`: wall time), so
//! that a busy machine does not hide the figure.
use std::sync::{Arc, Mutex};
use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ferrovs_benches::thread_cpu::ThreadCpu;
use ferrovs_datapath::flow::layout as dp;
use ferrovs_datapath::flow::Flow;
use ferrovs_datapath::packet::DpPacket;
use ferrovs_datapath::upcall::{UpcallHandler, UpcallReply};
use ferrovs_ofproto::upcall::{Bridge, OfprotoUpcall};
use ferrovs_ofproto::xlate::{PortVlan, XPort};
use ferrovs_ofproto::{Ofproto, OfprotoConfig};

fn handler() -> Arc<OfprotoUpcall> {
    let mut of = Ofproto::new(OfprotoConfig::new("br0", 1));
    for t in 0..9u32 {
        for i in 0..16u32 {
            of.add_flow_text(&format!(
                "table={t},priority=10,ip,nw_dst=198.18.{t}.{}/28 actions=load:{i}->NXM_NX_REG{t}[],goto_table:{}",
                i * 16,
                t + 1
            ))
            .unwrap();
        }
        of.add_flow_text(&format!(
            "table={t},priority=0 actions=goto_table:{}",
            t + 1
        ))
        .unwrap();
    }
    of.add_flow_text("table=9 actions=NORMAL").unwrap();
    let br = Bridge::new(Arc::new(Mutex::new(of)));
    for p in 1..=5u16 {
        br.set_port(
            p,
            XPort {
                name: format!("p{p}"),
                dp_port: Some(p as u32),
                vlan: PortVlan {
                    tag: Some(10),
                    ..Default::default()
                },
                peer: None,
                tunnel: None,
            },
        );
    }
    let up = OfprotoUpcall::new();
    up.add_bridge(br);
    up
}

fn upcall(c: &mut Criterion<ThreadCpu>) {
    let up = handler();
    let pkt = DpPacket::from_bytes(&[0u8; 64]);
    let mut reply = UpcallReply::default();
    let mut f = Flow::default();
    f.set(dp::IN_PORT, 1);
    f.set(dp::DL_SRC, 0x0000_0000_0001);
    f.set(dp::DL_TYPE, 0x0800);
    f.set(dp::NW_PROTO, 17);
    f.set(dp::NW_TTL, 64);
    f.set(dp::NW_SRC, 0xc612_0001);
    let mut n: u64 = 0;
    let mut g = c.benchmark_group("ofproto");
    g.throughput(Throughput::Elements(1));
    g.bench_function("upcall_10_tables_normal", |b| {
        b.iter(|| {
            n += 1;
            f.set(dp::DL_DST, 0x0200_0000_0000 | (n & 0xff_ffff_ffff));
            f.set(dp::NW_DST, 0xc612_0000 | (n & 0x7ff));
            let key = f.to_key();
            reply.clear();
            up.miss(&pkt, &key, &mut reply).unwrap();
            black_box(&reply);
        })
    });
    g.finish();
    assert!(!reply.actions.is_empty(), "NORMAL floods");
}

fn config() -> Criterion<ThreadCpu> {
    Criterion::default()
        .with_measurement(ThreadCpu::default())
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20)
}

criterion_group!(name = group; config = config(); targets = upcall);
criterion_main!(group);
