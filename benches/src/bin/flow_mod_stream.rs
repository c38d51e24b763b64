//! Feeds a switch the byte stream `ovs-ofctl add-flows` sends, for
//! profiling the flow-mod path under callgrind or perf without sockets:
//! `flow_mod_stream of10 N` (OpenFlow 1.0 flow-mod + barrier per flow) or
//! `flow_mod_stream bundle N` (OpenFlow 1.4 bundle: open, N adds, commit),
//! delivered in reads of `CHUNK` bytes; prints the wall time per flow.
use ferrovs_benches::of_workload::flow_mod;
use ferrovs_ofproto::{ConnKind, Ofproto, OfprotoConfig};
use ferrovs_openflow::message::{BundleAdd, BundleControl, Hello, Message};
use ferrovs_openflow::Version;

const CHUNK: usize = 4096;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map(String::as_str).unwrap_or("bundle");
    let n: u32 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let v = if mode == "of10" {
        Version::Of10
    } else {
        Version::Of14
    };
    let mut out = Message::Hello(Hello::offering(&[v])).encode(v, 1);
    let ctl = |type_| BundleControl {
        bundle_id: 0,
        type_,
        flags: 1,
        props: Vec::new(),
    };
    if mode == "of10" {
        for i in 0..n {
            Message::FlowMod(flow_mod(i)).encode_into(v, 2 * i + 2, &mut out);
            Message::BarrierRequest.encode_into(v, 2 * i + 3, &mut out);
        }
    } else {
        Message::BundleControl(ctl(0)).encode_into(v, 2, &mut out);
        for i in 0..n {
            let ba = BundleAdd {
                bundle_id: 0,
                flags: 1,
                message: Message::FlowMod(flow_mod(i)).encode(v, i + 3),
                props: Vec::new(),
            };
            Message::BundleAdd(ba).encode_into(v, i + 3, &mut out);
        }
        Message::BundleControl(ctl(4)).encode_into(v, n + 3, &mut out);
    }
    let mut of = Ofproto::new(OfprotoConfig::new("br0", 1));
    let id = of.connect(ConnKind::Service, Box::new(|| {}));
    let mut replies = 0;
    let t0 = std::time::Instant::now();
    for c in out.chunks(CHUNK) {
        of.receive(id, c);
        replies += of.take_output(id).len();
    }
    let ns = t0.elapsed().as_nanos() as f64 / n as f64;
    assert_eq!(of.n_rules(), n as usize);
    println!("{mode}: {n} flows, {replies} bytes of replies, {ns:.0} ns a flow");
}
