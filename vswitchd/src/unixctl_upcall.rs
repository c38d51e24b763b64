//! unixctl commands that steer the upcall and revalidation machinery at
//! run time, with OVS 3.1's replies: `upcall/set-flow-limit`,
//! `upcall/disable-megaflows` / `upcall/enable-megaflows`,
//! `upcall/disable-ufid` / `upcall/enable-ufid`, and the hidden
//! `revalidator/pause` / `revalidator/resume` (see `reval_control`).
//!
//! `set-flow-limit` reads its number as C's `atoi` does (what OVS uses,
//! see `unixctl::c_atoi`); the unsigned value is what OVS stores and
//! prints.

use std::sync::atomic::Ordering;

use crate::unixctl::Ctx;

/// `upcall/set-flow-limit N`.
pub fn cmd_set_flow_limit(ctx: &Ctx, args: &[String]) -> Result<String, String> {
    let limit = crate::unixctl::c_atoi(&args[0]) as u32;
    let sw = ctx.switch.lock().unwrap_or_else(|e| e.into_inner());
    sw.flow_limits.set(limit as usize, &sw.shared.dp);
    Ok(format!("set flow_limit to {limit}\n"))
}

/// Megaflows on or off: later misses install masked or exact flows, and
/// every datapath flow goes now (their statistics first), as OVS's
/// `udpif_flush`.
fn set_megaflows(ctx: &Ctx, on: bool) -> Result<(), String> {
    let (up, dp) = crate::unixctl_xlate::upcall_of(ctx)?;
    up.exact_flows.store(!on, Ordering::Relaxed);
    up.flush_stats();
    dp.flow_flush();
    Ok(())
}

pub fn cmd_disable_megaflows(ctx: &Ctx, _: &[String]) -> Result<String, String> {
    set_megaflows(ctx, false)?;
    Ok("megaflows disabled".into())
}

pub fn cmd_enable_megaflows(ctx: &Ctx, _: &[String]) -> Result<String, String> {
    set_megaflows(ctx, true)?;
    Ok("megaflows enabled".into())
}

fn reval(ctx: &Ctx) -> std::sync::Arc<crate::reval_control::RevalControl> {
    ctx.switch
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .reval
        .clone()
}

pub fn cmd_disable_ufid(ctx: &Ctx, _: &[String]) -> Result<String, String> {
    reval(ctx).set_ufid(false);
    Ok("Datapath dumping tersely using UFID disabled".into())
}

pub fn cmd_enable_ufid(ctx: &Ctx, _: &[String]) -> Result<String, String> {
    reval(ctx).set_ufid(true);
    Ok("Datapath dumping tersely using UFID enabled for supported datapaths".into())
}

pub fn cmd_revalidator_pause(ctx: &Ctx, _: &[String]) -> Result<String, String> {
    reval(ctx).pause();
    Ok(String::new())
}

pub fn cmd_revalidator_resume(ctx: &Ctx, _: &[String]) -> Result<String, String> {
    reval(ctx).resume();
    Ok(String::new())
}
