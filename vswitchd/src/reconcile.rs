//! The reconciler loop: whenever the replica changes (or a controller's
//! connection state does, or the statistics period ends) it reads the
//! wanted configuration, applies the difference to the running switch and
//! writes the resulting status back, with `cur_cfg` = `next_cfg` in the
//! same transaction, so `ovs-vsctl` (which waits for `cur_cfg`) returns
//! once the change is in effect and can read the port numbers it made.
//!
//! While the database is unreachable the switch keeps running on the last
//! configuration; the IDL reconnects by itself and its replica catches up
//! (`monitor_cond_since`), after which the next pass applies whatever
//! changed meanwhile.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ovsdb::idl::{Idl, IdlConfig};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::config::Wanted;
use crate::status::{self, STATS_INTERVAL};
use crate::switch::Switch;

/// Tables the switch reads (all columns: it writes status columns too and
/// must see them to write only differences). `Manager` is not among them:
/// managers are the database server's connections (`manager_options`);
/// OVS's switch reads them only for in-band control, which ferrovs does
/// not do.
pub const TABLES: &[&str] = &[
    "Open_vSwitch",
    "Bridge",
    "Port",
    "Interface",
    "Controller",
    "Datapath",
    "CT_Zone",
    "CT_Timeout_Policy",
];

pub fn idl_config(remote: &str) -> IdlConfig {
    IdlConfig {
        remote: remote.to_string(),
        db: "Open_vSwitch".into(),
        tables: TABLES.iter().map(|t| (t.to_string(), None)).collect(),
    }
}

/// Runs until `stop` is notified.
pub async fn run(
    mut idl: Idl,
    switch: Arc<Mutex<Switch>>,
    changed: Arc<Notify>,
    stop: Arc<Notify>,
) {
    let mut stats_at = Instant::now() + STATS_INTERVAL;
    let mut was_connected = false;
    loop {
        let seen = idl.seqno();
        let full = Instant::now() >= stats_at;
        if full {
            stats_at = Instant::now() + STATS_INTERVAL;
        }
        let txn = idl.with(|r| {
            let r = r?;
            if !r.connected {
                return None;
            }
            let _ = r.take_changes();
            let t0 = std::time::Instant::now();
            let want = Wanted::read(r);
            let mut sw = switch.lock().unwrap_or_else(|e| e.into_inner());
            sw.apply(&want);
            crate::xlate_glue::sync(&mut sw, &crate::xlate_glue::port_vlans(r));
            let t1 = std::time::Instant::now();
            let txn = status::build(r, &sw, &want, full);
            tracing::debug!(
                "pass: configuration {:?}, status {:?}, {} rows to write",
                t1 - t0,
                t1.elapsed(),
                txn.as_ref().map_or(0, |t| t.ops.len())
            );
            txn
        });
        let connected = idl.with(|r| r.is_some_and(|r| r.connected));
        if connected != was_connected {
            if connected {
                tracing::info!("database connected");
            } else {
                tracing::warn!("database connection lost; the switch keeps running, reconnecting");
            }
            was_connected = connected;
        }
        let mut retry_at = None;
        if let Some(txn) = txn {
            // A server that stops answering must not hold up a shutdown.
            let r = tokio::select! {
                r = idl.commit(&txn) => r,
                _ = stop.notified() => return,
            };
            if let Err(e) = r {
                tracing::warn!("status transaction failed: {e}; retrying");
                retry_at = Some(Instant::now() + Duration::from_millis(500));
            }
        }
        tokio::select! {
            _ = idl.wait_change(seen) => {}
            _ = changed.notified() => {}
            _ = tokio::time::sleep_until(stats_at) => {}
            _ = sleep_opt(retry_at) => {}
            _ = stop.notified() => return,
        }
    }
}

async fn sleep_opt(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}
