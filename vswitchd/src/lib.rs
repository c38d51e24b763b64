//! ferrovs-vswitchd as a library: the switch daemon's parts (reconciler,
//! bridges, OpenFlow connections, unixctl), so that the `ferrovs-vswitchd`
//! binary and `ferrovs up` (one process with the database server) run the
//! same code, and fuzz targets can reach the decoders.
//!
//! - [`config`]: the wanted configuration read from the IDL replica;
//! - [`switch`], [`bridge`], [`iface`], [`ofport`], [`hwaddr`]: the running
//!   switch and the pass that brings it to the configuration;
//! - [`status`]: what is written back; [`reconcile`]: the loop;
//! - [`ofconn`], [`target`]: OpenFlow connections, listeners, controllers;
//! - [`unixctl`], [`vlog`]: the control socket and logging; [`flow_dump`]:
//!   rules as `bridge/dump-flows` prints them;
//! - [`hostdev`]: address, MTU, carrier, counters of host devices;
//! - [`dummy_packet`], [`pcap`]: packets for dummy interfaces;
//! - [`upcall`]: a miss handler that drops (for tests without tables);
//! - [`xlate_glue`]: keeps ofproto's upcall handler in step with the
//!   bridges, and the periodic slow-path work;
//! - [`run`]: the daemon's main loop; [`cli`]: its command line.

pub mod bridge;
pub mod cli;
pub mod config;
pub mod coverage;
pub mod ct_config;
pub mod dummy_packet;
pub mod flow_dump;
pub mod flow_limit;
pub mod hostdev;
pub mod hwaddr;
pub mod iface;
pub mod ofconn;
pub mod ofconn_unix;
pub mod ofport;
pub mod pcap;
pub mod pmd_config;
pub mod reconcile;
pub mod reval_control;
pub mod rtnetlink;
pub mod run;
pub mod status;
pub mod switch;
pub mod target;
pub mod tnl_host;
pub mod trace_json;
pub mod unixctl;
pub mod unixctl_ct;
pub mod unixctl_dpctl;
pub mod unixctl_fdb;
pub mod unixctl_ipf;
pub mod unixctl_memory;
pub mod unixctl_pmd;
pub mod unixctl_tnl;
pub mod unixctl_upcall;
pub mod unixctl_xlate;
pub mod upcall;
pub mod vlog;
pub mod xlate_glue;
