//! The flows Neutron's OVS firewall driver writes into br-int, for the
//! side-by-side trace test and the namespace test to share.

pub const VM1_MAC: &str = "fa:16:3e:00:00:01";

/// Neutron's OVS firewall driver (neutron/agent/linux/openvswitch_firewall)
/// as it programs br-int for two VMs of one network (local VLAN/zone 1):
/// VM1 on p1 (198.18.0.1, security group: ingress TCP 22 from anywhere,
/// ingress ICMP from the members of a remote group, here VM2; egress
/// anything), VM2 on p2 (198.18.0.2, egress anything); p3 is the uplink.
/// Table 0 hands everything to 60 (transient: port -> reg5, network ->
/// reg6), 71-73 egress (spoofing checks, ct lookup, commit), 81-82
/// ingress, 91/92 accepted, 93 dropped, 94 forwarding; remote groups are
/// conjunctions, and an established connection whose rule went away is
/// marked ct_mark=1 and dropped.
pub const NEUTRON_FW: &[&str] = &[
    "table=0,priority=0 actions=resubmit(,60)",
    "table=60,priority=100,in_port=1 actions=set_field:0x1->reg5,set_field:0x1->reg6,resubmit(,71)",
    "table=60,priority=100,in_port=2 actions=set_field:0x2->reg5,set_field:0x1->reg6,resubmit(,71)",
    "table=60,priority=90,dl_dst=fa:16:3e:00:00:01 actions=set_field:0x1->reg5,set_field:0x1->reg6,resubmit(,81)",
    "table=60,priority=0 actions=NORMAL",
    "table=71,priority=95,arp,reg5=0x1,in_port=1,dl_src=fa:16:3e:00:00:01,arp_spa=198.18.0.1 actions=resubmit(,94)",
    "table=71,priority=95,arp,reg5=0x2,in_port=2,dl_src=fa:16:3e:00:00:02,arp_spa=198.18.0.2 actions=resubmit(,94)",
    "table=71,priority=95,icmp6,reg5=0x1,in_port=1,icmp_type=130 actions=resubmit(,94)",
    "table=71,priority=70,udp,reg5=0x1,in_port=1,tp_src=67,tp_dst=68 actions=resubmit(,93)",
    "table=71,priority=65,ip,reg5=0x1,in_port=1,dl_src=fa:16:3e:00:00:01,nw_src=198.18.0.1 actions=ct(table=72,zone=NXM_NX_REG6[0..15])",
    "table=71,priority=65,ip,reg5=0x2,in_port=2,dl_src=fa:16:3e:00:00:02,nw_src=198.18.0.2 actions=ct(table=72,zone=NXM_NX_REG6[0..15])",
    "table=71,priority=10,reg5=0x1,in_port=1 actions=resubmit(,93)",
    "table=71,priority=10,reg5=0x2,in_port=2 actions=resubmit(,93)",
    "table=71,priority=0 actions=drop",
    "table=72,priority=77,ct_state=+est-rel-rpl,ip,reg5=0x1 actions=resubmit(,73)",
    "table=72,priority=77,ct_state=+new-est,ip,reg5=0x1 actions=resubmit(,73)",
    "table=72,priority=77,ct_state=+est-rel-rpl,ip,reg5=0x2 actions=resubmit(,73)",
    "table=72,priority=77,ct_state=+new-est,ip,reg5=0x2 actions=resubmit(,73)",
    "table=72,priority=50,ct_state=+inv+trk actions=resubmit(,93)",
    "table=72,priority=50,ct_mark=0x1,reg5=0x1 actions=resubmit(,93)",
    "table=72,priority=50,ct_state=+est-rel+rpl,ct_zone=0x1,ct_mark=0,reg5=0x1 actions=resubmit(,94)",
    "table=72,priority=40,ct_state=-est,reg5=0x1 actions=resubmit(,93)",
    "table=72,priority=40,ct_state=+est,ip,reg5=0x1 actions=ct(commit,zone=NXM_NX_REG6[0..15],exec(load:0x1->NXM_NX_CT_MARK[]))",
    "table=72,priority=0 actions=drop",
    "table=73,priority=100,reg6=0x1,dl_dst=fa:16:3e:00:00:01 actions=set_field:0x1->reg5,resubmit(,81)",
    "table=73,priority=90,ct_state=+new-est,ip,reg5=0x1 actions=ct(commit,zone=NXM_NX_REG6[0..15]),resubmit(,91)",
    "table=73,priority=90,ct_state=+new-est,ip,reg5=0x2 actions=ct(commit,zone=NXM_NX_REG6[0..15]),resubmit(,91)",
    "table=73,priority=80,reg5=0x1 actions=resubmit(,94)",
    "table=73,priority=80,reg5=0x2 actions=resubmit(,94)",
    "table=81,priority=100,arp,reg5=0x1 actions=output:1",
    "table=81,priority=90,ct_state=-trk,ip,reg5=0x1 actions=ct(table=82,zone=NXM_NX_REG6[0..15])",
    "table=81,priority=80,ct_state=+trk,reg5=0x1 actions=resubmit(,82)",
    "table=81,priority=0 actions=drop",
    "table=82,priority=77,ct_state=+est-rel-rpl,tcp,reg5=0x1,tp_dst=22 actions=output:1",
    "table=82,priority=77,ct_state=+new-est,tcp,reg5=0x1,tp_dst=22 actions=ct(commit,zone=NXM_NX_REG6[0..15]),output:1,resubmit(,92)",
    "table=82,priority=71,ct_state=+est-rel-rpl,ip,reg6=0x1,nw_src=198.18.0.2 actions=conjunction(18,1/2)",
    "table=82,priority=71,ct_state=+est-rel-rpl,icmp,reg5=0x1 actions=conjunction(18,2/2)",
    "table=82,priority=71,ct_state=+new-est,ip,reg6=0x1,nw_src=198.18.0.2 actions=conjunction(19,1/2)",
    "table=82,priority=71,ct_state=+new-est,icmp,reg5=0x1 actions=conjunction(19,2/2)",
    "table=82,priority=71,conj_id=18,ct_state=+est-rel-rpl,icmp,reg5=0x1 actions=output:1",
    "table=82,priority=71,conj_id=19,ct_state=+new-est,icmp,reg5=0x1 actions=ct(commit,zone=NXM_NX_REG6[0..15]),output:1,resubmit(,92)",
    "table=82,priority=50,ct_mark=0x1,reg5=0x1 actions=resubmit(,93)",
    "table=82,priority=50,ct_state=+est-rel+rpl,ct_zone=0x1,ct_mark=0,reg5=0x1 actions=output:1",
    "table=82,priority=50,ct_state=-new-est+rel-inv,ct_zone=0x1,ct_mark=0,reg5=0x1 actions=output:1",
    "table=82,priority=40,ct_state=-est,reg5=0x1 actions=resubmit(,93)",
    "table=82,priority=40,ct_state=+est,ip,reg5=0x1 actions=ct(commit,zone=NXM_NX_REG6[0..15],exec(load:0x1->NXM_NX_CT_MARK[]))",
    "table=82,priority=0 actions=drop",
    "table=91,priority=1 actions=resubmit(,94)",
    "table=92,priority=0 actions=drop",
    "table=93,priority=0 actions=drop",
    "table=94,priority=12,reg6=0x1,dl_dst=fa:16:3e:00:00:02 actions=output:2",
    "table=94,priority=12,reg6=0x1,dl_dst=fa:16:3e:00:00:01 actions=output:1",
    "table=94,priority=1 actions=NORMAL",
];
