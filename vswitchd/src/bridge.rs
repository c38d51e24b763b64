//! A running bridge: its `Ofproto`, interfaces, management socket and
//! controllers, and the pass that brings it to what the database wants.
//!
//! `Bridge::apply` changes only what differs, as OVS's bridge.c: an
//! interface that went away, changed type, or got a new `ofport_request`
//! it does not have is removed (and re-added); one that failed is retried
//! when its configuration changes; new ones are added (those with an
//! `ofport_request` first, so that their numbers are free, then the rest in
//! name order); options (a patch peer), MTU and MAC changes are applied in
//! place, keeping the port number; controllers are compared by target.
//! Ports and connections that did not change are never touched.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferrovs_datapath::netdev::{self, MemNetdev, Netdev, NetdevError};
use ferrovs_datapath::Datapath;
use ferrovs_ofproto::tunnel::{TnlConfig, TnlKindNames};
use ferrovs_ofproto::{ConnKind, OfPort, Ofproto, OfprotoConfig};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::config::{WantBridge, WantController, WantIface};
use crate::hostdev;
use crate::hwaddr::{self, EthAddr};
use crate::iface::{self, Backing, Iface};
use crate::ofconn::{lock, SharedOfproto};
use crate::ofport::{OfportAlloc, OFPP_LOCAL};
use crate::target::{Active, Service, Target};

/// OpenFlow port state bit for a live port (OpenFlow 1.1+ OFPPS_LIVE), as
/// OVS sets it on ports whose carrier is up.
const OFPPS_LIVE: u32 = 1 << 2;
/// OFPPS_LINK_DOWN: no carrier.
const OFPPS_LINK_DOWN: u32 = 1;

/// What the bridges share: the one datapath and its port numbers, and the
/// counter that names dummy devices' addresses.
pub struct Shared {
    pub dp: Arc<Datapath>,
    dp_ports: BTreeSet<u32>,
    /// Shared tunnel datapath ports by name: (port number, users).
    tnl_ports: BTreeMap<String, (u32, usize)>,
    /// Next dummy address: aa:55:aa:55:00:00, ...:01, ... in creation
    /// order over the whole process, as OVS's netdev-dummy.
    next_dummy: u32,
    pub rundir: std::path::PathBuf,
    /// Notified when a controller connects or disconnects.
    pub status_changed: Arc<Notify>,
    /// Whether system, afxdp, tap and internal interfaces open host
    /// devices (the daemon) or internal ports are in-memory devices and the
    /// other host types are refused (`--enable-dummy=override`, unit tests:
    /// nothing is created on the host).
    pub host_ports: bool,
    /// The upcall handler's view of the bridges (None: misses drop).
    pub wiring: Option<crate::xlate_glue::Wiring>,
}

impl Shared {
    pub fn new(dp: Arc<Datapath>, rundir: &Path) -> Shared {
        Shared {
            dp,
            dp_ports: BTreeSet::new(),
            tnl_ports: BTreeMap::new(),
            next_dummy: 0,
            rundir: rundir.to_path_buf(),
            status_changed: Arc::new(Notify::new()),
            host_ports: false,
            wiring: None,
        }
    }

    fn add_dp_port(&mut self, netdev: Arc<dyn Netdev>) -> Result<u32, String> {
        // Port 0 is the datapath's own port in OVS; bridges' ports start at 1.
        let no = (1..).find(|n| !self.dp_ports.contains(n)).unwrap_or(1);
        self.dp.add_port(no, netdev).map_err(|e| e.to_string())?;
        self.dp_ports.insert(no);
        Ok(no)
    }

    fn del_dp_port(&mut self, no: u32) {
        if let Err(e) = self.dp.del_port(no) {
            tracing::warn!("datapath port {no}: {e}");
        }
        self.dp_ports.remove(&no);
    }

    /// The shared datapath port of tunnel settings `c` (created with its
    /// first user).
    fn acquire_tnl_port(&mut self, c: &TnlConfig) -> Result<u32, String> {
        let name = c.kind.dp_port_name(c.dst_port);
        if let Some((no, users)) = self.tnl_ports.get_mut(&name) {
            *users += 1;
            return Ok(*no);
        }
        // The port has no device: a queue-less in-memory stand-in, so
        // that the datapath knows the number as an input port.
        let no = self.add_dp_port(MemNetdev::new(&name, 1, 1))?;
        self.tnl_ports.insert(name, (no, 1));
        Ok(no)
    }

    fn release_tnl_port(&mut self, c: &TnlConfig) {
        let name = c.kind.dp_port_name(c.dst_port);
        let Some((no, users)) = self.tnl_ports.get_mut(&name) else {
            return;
        };
        *users -= 1;
        if *users == 0 {
            let no = *no;
            self.tnl_ports.remove(&name);
            self.del_dp_port(no);
        }
    }

    /// `tnl/ports/show`'s lines: each shared tunnel port with its number
    /// of users.
    pub fn tnl_ports(&self) -> Vec<(String, u32, usize)> {
        self.tnl_ports
            .iter()
            .map(|(n, (no, u))| (n.clone(), *no, *u))
            .collect()
    }

    fn dummy_mac(&mut self) -> EthAddr {
        let n = 0xaa55_0000u32 + self.next_dummy;
        self.next_dummy += 1;
        let b = n.to_be_bytes();
        [0xaa, 0x55, b[0], b[1], b[2], b[3]]
    }
}

/// A controller target as it runs.
pub enum Controller {
    Active(Active),
    /// Held for its listener (dropping it closes the socket).
    Passive(#[allow(dead_code)] Service),
    /// Could not start (bad target, bind failure): logged, retried when the
    /// configuration changes.
    Failed(String),
}

pub struct Bridge {
    pub uuid: Uuid,
    pub name: String,
    pub ofproto: SharedOfproto,
    pub ifaces: BTreeMap<String, Iface>,
    alloc: OfportAlloc,
    pub settings: WantBridge,
    _mgmt: Option<Service>,
    pub controllers: BTreeMap<String, (WantController, Controller)>,
    /// Per configured target: primary (true) or service, decided when the
    /// target first appears and kept while it stays configured, as OVS's
    /// connmgr keeps an ofservice's type (a later `type` change of the same
    /// target does not take effect until it is removed and added again).
    pub primary: BTreeMap<String, bool>,
    pub ea: EthAddr,
    pub dpid: u64,
}

impl Bridge {
    /// Creates the bridge with its management socket
    /// (`RUNDIR/<name>.mgmt`).
    pub fn create(want: &WantBridge, sh: &Shared) -> Bridge {
        let ea = hwaddr::bridge_default(&want.uuid);
        let dpid = hwaddr::pick_dpid(None, &ea);
        let ofproto = Arc::new(Mutex::new(Ofproto::new(OfprotoConfig::new(
            &want.name, dpid,
        ))));
        let mgmt_path = sh.rundir.join(format!("{}.mgmt", want.name));
        let mgmt = match Service::listen(
            &Target::PUnix(mgmt_path.clone()),
            ofproto.clone(),
            ConnKind::Service,
            None,
        ) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::error!("{}: {e}", mgmt_path.display());
                None
            }
        };
        tracing::info!("bridge {}: created", want.name);
        let mut settings = want.clone();
        settings.ifaces.clear();
        settings.controllers.clear();
        Bridge {
            uuid: want.uuid,
            name: want.name.clone(),
            ofproto,
            ifaces: BTreeMap::new(),
            alloc: OfportAlloc::default(),
            settings,
            _mgmt: mgmt,
            controllers: BTreeMap::new(),
            primary: BTreeMap::new(),
            ea,
            dpid,
        }
    }

    /// The smallest MTU among ports whose MTU is their own (not internal
    /// ports that follow the bridge, not patch ports), or 1500 if none: what
    /// internal ports without `mtu_request` get, as in OVS.
    pub fn min_mtu(&self) -> i64 {
        self.ifaces
            .values()
            .filter(|i| !i.mtu_follows_bridge())
            .filter_map(|i| i.mtu(iface::DEFAULT_MTU))
            .min()
            .unwrap_or(iface::DEFAULT_MTU)
    }

    /// Sets the MTU of each host device whose MTU differs from what it
    /// should be; a device refusing it is logged (its MTU stays, and shows).
    fn sync_host_mtus(&self) {
        let own = |i: &Iface| i.cfg.mtu_request;
        for i in self
            .ifaces
            .values()
            .filter(|i| i.host.is_some() && !i.mtu_follows_bridge())
        {
            if let Some(m) = own(i) {
                set_host_mtu(&i.cfg.name, m);
            }
        }
        let min = self.min_mtu();
        for i in self
            .ifaces
            .values()
            .filter(|i| i.host.is_some() && i.mtu_follows_bridge())
        {
            set_host_mtu(&i.cfg.name, min);
        }
    }

    /// Removes every interface (the bridge is going away).
    pub fn destroy(mut self, sh: &mut Shared) {
        let names: Vec<String> = self.ifaces.keys().cloned().collect();
        for n in names {
            self.remove_iface(&n, sh, Instant::now());
        }
        tracing::info!("bridge {}: deleted", self.name);
    }

    /// Brings the bridge to `want`.
    pub fn apply(&mut self, want: &WantBridge, sh: &mut Shared) {
        let now = Instant::now();
        self.uuid = want.uuid;
        // 1. Interfaces that went away or must be re-created.
        let gone: Vec<String> = self
            .ifaces
            .iter()
            .filter(|(n, i)| want.ifaces.get(*n).is_none_or(|w| must_recreate(i, w)))
            .map(|(n, _)| n.clone())
            .collect();
        for n in gone {
            self.remove_iface(&n, sh, now);
        }
        // 2. New interfaces: requested numbers first.
        let new: Vec<&WantIface> = want
            .ifaces
            .values()
            .filter(|w| !self.ifaces.contains_key(&w.name))
            .collect();
        let (req, rest): (Vec<&WantIface>, Vec<&WantIface>) =
            new.into_iter().partition(|w| w.ofport_request.is_some());
        for w in req.into_iter().chain(rest) {
            self.add_iface(w, sh, now);
        }
        // 3. In-place changes (options, MTU, MAC).
        for (n, w) in &want.ifaces {
            if let Some(i) = self.ifaces.get_mut(n) {
                if i.cfg != *w {
                    let mac_changed = i.cfg.mac != w.mac;
                    i.cfg = w.clone();
                    if let Some(Backing::Patch { peer }) = &mut i.backing {
                        match iface::patch_peer(w) {
                            Ok(p) => *peer = p,
                            // The new options are unusable: the port goes
                            // and the error shows (OVS deletes a port whose
                            // netdev refuses its new configuration).
                            Err(e) => {
                                tracing::warn!("bridge {}: {e}", self.name);
                                self.remove_iface(n, sh, now);
                                self.add_iface(w, sh, now);
                                continue;
                            }
                        }
                    }
                    if let Some(Backing::Tunnel(old)) = &i.backing {
                        let old = old.clone();
                        match iface::tunnel_config(w).unwrap_or_else(|| Err(String::new())) {
                            Ok(mut c) => {
                                let same_port = old.kind == c.kind && old.dst_port == c.dst_port;
                                c.dp_port = old.dp_port;
                                if same_port {
                                    i.backing = Some(Backing::Tunnel(Arc::new(c)));
                                    continue;
                                }
                            }
                            Err(e) => tracing::warn!("bridge {}: {e}", self.name),
                        }
                        // Another shared port or unusable options: the port
                        // is made again (the error then shows).
                        self.remove_iface(n, sh, now);
                        self.add_iface(w, sh, now);
                        continue;
                    }
                    if mac_changed && i.backing == Some(Backing::Internal) {
                        i.mac = internal_mac(w);
                        if i.host.is_some() {
                            set_host_mac(n, &i.mac);
                        }
                        self.publish_port(n);
                    }
                }
            }
        }
        // Host devices get their MTU: mtu_request, or for internal ports
        // without one the bridge's smallest (as OVS).
        self.sync_host_mtus();
        // 4. Bridge address, datapath id, ofproto settings.
        let hw = want.other_config.get("hwaddr").map(String::as_str);
        let ea = hwaddr::pick_bridge_addr(
            hw,
            self.ifaces
                .values()
                .filter(|i| i.backing.is_some() && i.backing != Some(Backing::Local))
                .map(|i| i.mac),
            hwaddr::bridge_default(&want.uuid),
        );
        let dpid = hwaddr::pick_dpid(
            want.other_config.get("datapath-id").map(String::as_str),
            &ea,
        );
        if ea != self.ea {
            self.ea = ea;
            let local: Vec<String> = self
                .ifaces
                .iter()
                .filter(|(_, i)| i.backing == Some(Backing::Local))
                .map(|(n, _)| n.clone())
                .collect();
            for n in local {
                if let Some(i) = self.ifaces.get_mut(&n) {
                    i.mac = ea;
                    if i.host.is_some() {
                        set_host_mac(&n, &ea);
                    }
                }
                self.publish_port(&n);
            }
        }
        let settings_changed = want.settings() != self.settings.settings();
        if dpid != self.dpid || settings_changed {
            self.dpid = dpid;
            let mut cfg = lock(&self.ofproto).config().clone();
            cfg.datapath_id = dpid;
            cfg.versions = want.protocols.clone();
            cfg.fail_secure = want.fail_secure;
            cfg.n_tables = want.n_tables().unwrap_or(254);
            lock(&self.ofproto).set_config(cfg);
        }
        if settings_changed {
            self.settings = want.clone();
            self.settings.ifaces.clear();
            self.settings.controllers.clear();
        }
        // 5. Controllers.
        self.apply_controllers(want, sh);
        // 6. Carrier changes of host devices reach OpenFlow (port-status
        // only when the state changed).
        let hosts: Vec<String> = self
            .ifaces
            .iter()
            .filter(|(_, i)| i.host.is_some())
            .map(|(n, _)| n.clone())
            .collect();
        for n in hosts {
            self.publish_port(&n);
        }
    }

    fn apply_controllers(&mut self, want: &WantBridge, sh: &Shared) {
        self.primary.retain(|t, _| want.controllers.contains_key(t));
        for (t, w) in &want.controllers {
            self.primary
                .entry(t.clone())
                .or_insert_with(|| w.is_primary());
        }
        self.controllers.retain(|t, (cfg, c)| {
            let Some(w) = want.controllers.get(t) else {
                tracing::info!("bridge {}: controller {t} removed", want.name);
                return false;
            };
            if w == cfg {
                return true;
            }
            match c {
                // Same target, new timers: reconfigured in place.
                Controller::Active(a) if w.uuid == cfg.uuid => {
                    a.update(
                        Duration::from_millis(w.max_backoff_ms),
                        probe_of(w),
                        (w.rate_limit, w.burst_limit),
                    );
                    *cfg = w.clone();
                    true
                }
                _ => false,
            }
        });
        for (t, w) in &want.controllers {
            if self.controllers.contains_key(t) {
                continue;
            }
            let probe =
                (w.inactivity_probe_ms > 0).then(|| Duration::from_millis(w.inactivity_probe_ms));
            // A service connection gets no asynchronous messages until
            // set-config asks (see `WantController::is_primary`).
            let kind = if self.primary.get(t).copied().unwrap_or(false) {
                ConnKind::Controller
            } else {
                ConnKind::Service
            };
            let c = match Target::parse(t, &sh.rundir) {
                None => Controller::Failed(format!("{t}: unsupported or malformed target")),
                Some(tg) if tg.is_passive() => {
                    let rate = (w.rate_limit, w.burst_limit);
                    let of = self.ofproto.clone();
                    match Service::listen_limited(&tg, of, kind, probe, rate) {
                        Ok(s) => Controller::Passive(s),
                        Err(e) => Controller::Failed(format!("{t}: {e}")),
                    }
                }
                Some(tg) => Controller::Active(Active::start(
                    tg,
                    kind,
                    self.ofproto.clone(),
                    Duration::from_millis(w.max_backoff_ms),
                    probe,
                    (w.rate_limit, w.burst_limit),
                    sh.status_changed.clone(),
                )),
            };
            if let Controller::Failed(e) = &c {
                tracing::warn!("bridge {}: controller {e}", want.name);
            } else {
                tracing::info!("bridge {}: controller {t} added", want.name);
            }
            self.controllers.insert(t.clone(), (w.clone(), c));
        }
    }

    fn remove_iface(&mut self, name: &str, sh: &mut Shared, now: Instant) {
        let Some(i) = self.ifaces.remove(name) else {
            return;
        };
        if let Some(p) = i.ofport {
            lock(&self.ofproto).del_port(p);
            self.alloc.free(p, now);
        }
        if let Some(d) = i.dp_port {
            sh.del_dp_port(d);
        }
        if let Some(Backing::Tunnel(c)) = &i.backing {
            sh.release_tnl_port(c);
        }
        tracing::info!("bridge {}: removed interface {name}", self.name);
    }

    fn add_iface(&mut self, w: &WantIface, sh: &mut Shared, now: Instant) {
        let local = w.name == self.name;
        let mut i = Iface {
            cfg: w.clone(),
            backing: None,
            ofport: None,
            dp_port: None,
            netdev: None,
            host: None,
            mac: [0; 6],
            error: None,
        };
        let backing = match w.kind.as_str() {
            "internal" if local => Ok(Backing::Local),
            "internal" => Ok(Backing::Internal),
            "dummy" => Ok(Backing::Dummy),
            "patch" => iface::patch_peer(w).map(|peer| Backing::Patch { peer }),
            _ if iface::tunnel_config(w).is_some() => {
                match iface::tunnel_config(w).unwrap_or_else(|| Err(String::new())) {
                    Ok(mut c) => sh.acquire_tnl_port(&c).map(|no| {
                        c.dp_port = no;
                        Backing::Tunnel(Arc::new(c))
                    }),
                    Err(e) => Err(e),
                }
            }
            k if sh.host_ports && iface::is_host_type(k) => Ok(Backing::Device),
            _ => Err(iface::unsupported(w)),
        };
        match backing {
            Err(e) => {
                tracing::warn!("bridge {}: {e}", self.name);
                i.error = Some(e);
            }
            Ok(b) => {
                i.mac = match b {
                    Backing::Local => self.ea,
                    Backing::Internal => internal_mac(w),
                    Backing::Dummy => sh.dummy_mac(),
                    Backing::Patch { .. } | Backing::Device | Backing::Tunnel(_) => {
                        hwaddr::random()
                    }
                };
                let host = matches!(b, Backing::Device)
                    || (sh.host_ports && matches!(b, Backing::Local | Backing::Internal));
                let dev: Option<Arc<dyn Netdev>> = if host {
                    match open_host(w) {
                        Ok(d) => {
                            i.host = Some(d.clone());
                            Some(d)
                        }
                        Err(e) => {
                            i.error = Some(e);
                            None
                        }
                    }
                } else if matches!(b, Backing::Local | Backing::Internal | Backing::Dummy) {
                    // A dummy port takes `options:n_rxq` (as OVS's
                    // dummy-pmd ports), and one transmit queue per PMD.
                    let nrx = match b {
                        Backing::Dummy => dummy_n_rxq(w),
                        _ => 1,
                    };
                    let nd = MemNetdev::new(&w.name, nrx, 1);
                    i.netdev = Some(nd.clone());
                    Some(nd)
                } else {
                    None
                };
                if let Some(d) = dev {
                    match sh.add_dp_port(d) {
                        Ok(no) => i.dp_port = Some(no),
                        Err(e) => {
                            i.error = Some(format!("could not add {} to the datapath: {e}", w.name))
                        }
                    }
                }
                if i.host.is_some() && i.error.is_none() {
                    i.mac = match b {
                        // The host sees the port's own address.
                        Backing::Local | Backing::Internal => {
                            set_host_mac(&w.name, &i.mac);
                            hostdev::mac(&w.name).unwrap_or(i.mac)
                        }
                        _ => hostdev::mac(&w.name).unwrap_or(i.mac),
                    };
                }
                if i.error.is_none() {
                    let no = if b == Backing::Local {
                        Some(OFPP_LOCAL)
                    } else {
                        self.alloc.alloc(w.ofport_request, now)
                    };
                    match no {
                        Some(no) => i.ofport = Some(no),
                        None => i.error = Some(format!("{}: no OpenFlow port number left", w.name)),
                    }
                }
                if i.error.is_some() {
                    if let Some(d) = i.dp_port.take() {
                        sh.del_dp_port(d);
                    }
                    if let Backing::Tunnel(c) = &b {
                        sh.release_tnl_port(c);
                    }
                    i.netdev = None;
                    i.host = None;
                } else {
                    i.backing = Some(b);
                }
            }
        }
        let name = w.name.clone();
        tracing::info!(
            "bridge {}: added interface {name} on port {:?}",
            self.name,
            i.ofport
        );
        self.ifaces.insert(name.clone(), i);
        self.publish_port(&name);
    }

    /// Tells ofproto about interface `name`'s port (number, name, address,
    /// state).
    fn publish_port(&self, name: &str) {
        let Some(i) = self.ifaces.get(name) else {
            return;
        };
        let Some(no) = i.ofport else {
            return;
        };
        let mut p = OfPort {
            port_no: no,
            hw_addr: i.mac,
            ..Default::default()
        };
        p.set_name(name);
        // A host device without carrier is LINK_DOWN and not live.
        let down = i.host.is_some() && hostdev::link_state(name) == "down";
        p.state = if down { OFPPS_LINK_DOWN } else { OFPPS_LIVE };
        let mut of = lock(&self.ofproto);
        // The config bits are the controller's (port-mod): kept.
        p.config = of.port(no).map_or(0, |old| old.config);
        of.set_port(p);
        of.set_port_stats_source(no, i.stats_source());
        // Dummy devices have a default queue 0, as OVS's netdev-dummy.
        of.set_port_queues(no, matches!(i.backing, Some(Backing::Dummy)));
    }
}

/// How many times a busy AF_XDP device is tried again (a socket of a
/// port just removed may take a moment to go), and how long apart.
const BUSY_RETRIES: u32 = 5;
const BUSY_PAUSE: Duration = Duration::from_millis(100);

/// Opens interface `w`'s host device; the error is the `error` column's
/// text.
fn open_host(w: &WantIface) -> Result<Arc<dyn Netdev>, String> {
    let mut tries = 0;
    loop {
        match netdev::open::open(&w.kind, &w.name, &w.options) {
            Ok(d) => return Ok(d),
            Err(NetdevError::Busy(_)) if w.kind == "afxdp" && tries < BUSY_RETRIES => {
                tries += 1;
                std::thread::sleep(BUSY_PAUSE);
            }
            Err(e) => {
                tracing::warn!("could not open network device {}: {e}", w.name);
                return Err(e.to_string());
            }
        }
    }
}

fn set_host_mtu(name: &str, mtu: i64) {
    if hostdev::mtu(name) == Some(mtu) {
        return;
    }
    if let Err(e) = hostdev::set_mtu(name, mtu) {
        tracing::warn!("{name}: setting MTU {mtu}: {e}");
    }
}

fn set_host_mac(name: &str, ea: &EthAddr) {
    if let Err(e) = hostdev::set_mac(name, ea) {
        tracing::warn!("{name}: setting address: {e}");
    }
}

/// Whether interface `i` must be removed and added again to become `w`.
fn must_recreate(i: &Iface, w: &WantIface) -> bool {
    let new_request = w.ofport_request != i.cfg.ofport_request
        && w.ofport_request.is_some()
        && w.ofport_request != i.ofport.map(i64::from);
    // A port's receive queues are made when it opens (AF_XDP sockets,
    // dummy queues): a new `n_rxq` opens it again.
    let new_rxqs = w.options.get("n_rxq") != i.cfg.options.get("n_rxq");
    w.uuid != i.cfg.uuid
        || w.kind != i.cfg.kind
        || new_request
        || new_rxqs
        || (i.error.is_some() && w != &i.cfg)
}

fn probe_of(w: &WantController) -> Option<Duration> {
    (w.inactivity_probe_ms > 0).then(|| Duration::from_millis(w.inactivity_probe_ms))
}

/// An internal port's address: `mac` if valid unicast, else random.
fn internal_mac(w: &WantIface) -> EthAddr {
    match w.mac.as_deref().and_then(hwaddr::parse) {
        Some(ea) if !hwaddr::is_multicast(&ea) => ea,
        Some(_) => {
            tracing::error!("interface {}: cannot set MAC to multicast address", w.name);
            hwaddr::random()
        }
        None => hwaddr::random(),
    }
}

/// Highest `options:n_rxq` of a dummy port (OVS's limit for dummy ports).
const DUMMY_MAX_RXQ: usize = 64;

/// A dummy port's receive queues: `options:n_rxq` (1 to 64, else 1).
fn dummy_n_rxq(w: &WantIface) -> usize {
    match w.options.get("n_rxq").map(|v| v.parse::<usize>()) {
        None => 1,
        Some(Ok(n)) if (1..=DUMMY_MAX_RXQ).contains(&n) => n,
        Some(_) => {
            tracing::warn!(
                "interface {}: options:n_rxq must be 1 to {DUMMY_MAX_RXQ}: using 1",
                w.name
            );
            1
        }
    }
}
