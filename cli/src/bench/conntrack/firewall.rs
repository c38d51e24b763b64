//! The stateful firewall both switches run during the conntrack figures,
//! written as Neutron's OVS firewall driver writes one: the zone comes
//! from register 6 (`ct(table=1,zone=NXM_NX_REG6[0..15])`), new
//! connections are committed with a ct_mark of 0, established and
//! related packets of unmarked connections pass, invalid and everything
//! else is dropped. ARP passes untracked so the hosts find each other.

use std::path::Path;
use std::process::Command;

use super::super::topology::run;

/// The zone every connection of the bench lives in (register 6).
pub const ZONE: u16 = 5;

pub fn flows() -> Vec<String> {
    let z = "NXM_NX_REG6[0..15]";
    vec![
        "table=0,priority=100,arp,actions=NORMAL".into(),
        format!("table=0,priority=90,ip,actions=load:{ZONE}->NXM_NX_REG6[],ct(table=1,zone={z})"),
        "table=0,priority=0,actions=drop".into(),
        format!(
            "table=1,priority=100,ct_state=+new-est-rel-inv+trk,ip,actions=ct(commit,zone={z},exec(load:0->NXM_NX_CT_MARK[])),NORMAL"
        ),
        "table=1,priority=100,ct_state=-new+est-rel-inv+trk,ct_mark=0,ip,actions=NORMAL".into(),
        "table=1,priority=100,ct_state=-new-est+rel-inv+trk,ct_mark=0,ip,actions=NORMAL".into(),
        "table=1,priority=50,ct_state=+inv+trk,actions=drop".into(),
        "table=1,priority=0,actions=drop".into(),
    ]
}

/// Replaces `br0`'s flows (the switch's run directory `dir` holds
/// `br0.mgmt`) with [`flows`], with Debian's `ovs-ofctl`.
pub fn install(dir: &Path) -> anyhow::Result<()> {
    let file = dir.join("firewall.flows");
    std::fs::write(&file, flows().join("\n") + "\n")?;
    let target = format!("unix:{}", dir.join("br0.mgmt").display());
    run(Command::new("ovs-ofctl")
        .args(["-O", "OpenFlow13", "replace-flows", &target])
        .arg(&file))?;
    Ok(())
}

/// `ovs-appctl -t DIR/CTL ARGS` against the running switch.
pub fn appctl(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let ctl = ["vswitchd.ctl", "ovs-vswitchd.ctl"]
        .iter()
        .map(|c| dir.join(c))
        .find(|p| p.exists())
        .ok_or_else(|| anyhow::anyhow!("no unixctl socket in {}", dir.display()))?;
    run(Command::new("ovs-appctl").arg("-t").arg(ctl).args(args))
}
