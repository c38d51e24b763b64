//! One bridge on a userspace datapath whose ports are memory netdevs
//! (`MemNetdev`, one queue each): the whole fast and slow path of a
//! switch, driven by injecting frames and polling a PMD inline, without
//! processes or sockets.

use std::sync::{Arc, Mutex};

use ferrovs_datapath::dpif::{Datapath, DpConfig};
use ferrovs_datapath::netdev::MemNetdev;
use ferrovs_ofproto::upcall::{Bridge, OfprotoUpcall};
use ferrovs_ofproto::xlate::XPort;
use ferrovs_ofproto::Ofproto;

pub struct MemSwitch {
    pub br: Arc<Bridge>,
    pub up: Arc<OfprotoUpcall>,
    pub dp: Datapath,
    /// `ports[i]` is `p{i+1}`, OpenFlow port `i + 1`.
    pub ports: Vec<Arc<MemNetdev>>,
}

impl MemSwitch {
    /// `of` as the one bridge of a default datapath with `n` ports
    /// p1..pN; OpenFlow port `k` is datapath port `first_dp + k - 1`.
    pub fn new(of: Arc<Mutex<Ofproto>>, n: u16, first_dp: u32) -> MemSwitch {
        let br = Bridge::new(of);
        let up = OfprotoUpcall::new();
        up.add_bridge(br.clone());
        let dp = Datapath::new(DpConfig::default(), up.clone());
        let ports: Vec<Arc<MemNetdev>> = (1..=n)
            .map(|k| MemNetdev::new(&format!("p{k}"), 1, 1))
            .collect();
        for (k, p) in (1..=n).zip(&ports) {
            dp.add_port(first_dp + k as u32 - 1, p.clone()).unwrap();
            br.set_port(k, Self::xport(k, first_dp));
        }
        MemSwitch { br, up, dp, ports }
    }

    /// The `XPort` of OpenFlow port `k` (as [`Self::new`] set it).
    pub fn xport(k: u16, first_dp: u32) -> XPort {
        XPort {
            name: format!("p{k}"),
            dp_port: Some(first_dp + k as u32 - 1),
            ..Default::default()
        }
    }
}
