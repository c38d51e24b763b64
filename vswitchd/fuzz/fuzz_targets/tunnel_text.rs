//! What native tunnelling reads: interface options of a tunnel (`k=v`
//! lines), an rtnetlink route dump (the same bytes as netlink messages),
//! and the `ovs/route/*` and `tnl/*/set` arguments. Any bytes give a
//! value or an error, never a panic, and routes built from them answer
//! lookups.
#![no_main]

use std::collections::BTreeMap;

use ferrovs_ofproto::tunnel::neigh::parse_mac;
use ferrovs_ofproto::tunnel::route::{parse_prefix, RouteTable};
use ferrovs_ofproto::tunnel::{TnlConfig, TnlKind};
use ferrovs_vswitchd::rtnetlink::parse_dump;
use ferrovs_vswitchd::tnl_host::cached_routes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let opts: BTreeMap<String, String> = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for kind in [TnlKind::Vxlan, TnlKind::Gre, TnlKind::Geneve] {
        if let Ok(c) = TnlConfig::parse("t", kind, &opts) {
            let _ = c.describe();
        }
    }
    let mut dump = Vec::new();
    let _ = parse_dump(data, &mut dump);
    let kernel: Vec<(String, _)> = dump.into_iter().map(|k| ("br0".to_string(), k)).collect();
    let addrs = BTreeMap::new();
    let mut t = RouteTable::default();
    t.set_cached(cached_routes(&kernel, &addrs));
    for w in text.split_whitespace() {
        if let Some((ip, plen)) = parse_prefix(w) {
            let _ = t.lookup(0, ip, None);
            let _ = t.del_user(ip, plen, 0);
        }
        let _ = parse_mac(w);
    }
    let _ = t.show();
});
