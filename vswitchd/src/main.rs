//! ferrovs-vswitchd: reads the Open_vSwitch database, builds bridges, ports
//! and datapath ports, speaks OpenFlow to controllers and serves unixctl.
//!
//! A reconciler: it keeps an IDL replica of the database and, on every
//! change, diffs desired against actual state and applies the difference.
//! Not built yet: the datapath, OpenFlow and OVSDB crates come first.
fn main() -> anyhow::Result<()> {
    anyhow::bail!("ferrovs-vswitchd is not built yet")
}
