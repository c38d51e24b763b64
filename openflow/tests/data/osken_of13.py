"""Build OpenFlow 1.3 messages with os-ken's own parser classes, serialize
them, and print one JSON object per line: the bytes (hex) and a short
description of their meaning, computed from os-ken's objects (not from the
bytes).  The ferrovs test decodes the bytes and must find the same meaning.
"""
import json
import socket
import struct

from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as p
from os_ken.ofproto import nicira_ext


class Dp:
    ofproto = ofp
    ofproto_parser = p

    def __init__(self):
        self.xid = 100

    def set_xid(self, msg):
        self.xid += 1
        msg.set_xid(self.xid)


dp = Dp()


def ip(s):
    return struct.unpack("!I", socket.inet_aton(s))[0]


def mac(s):
    return int(s.replace(":", ""), 16)


def match_facts(m):
    out = []
    for k, v in m.items():
        if isinstance(v, tuple):
            val, mask = v
        else:
            val, mask = v, None
        conv = mac if k.startswith("eth_") and k != "eth_type" else ip if k.startswith("ipv4") else int
        out.append([k, conv(val), None if mask is None else conv(mask)])
    return sorted(out)


def action_facts(a):
    n = type(a).__name__
    if n == "OFPActionOutput":
        return ["output", a.port, a.max_len]
    if n == "OFPActionSetField":
        k, v = a.key, a.value
        conv = mac if k.startswith("eth_") and k != "eth_type" else ip if k.startswith("ipv4") else int
        return ["set_field", k, conv(v)]
    if n == "OFPActionPushVlan":
        return ["push_vlan", a.ethertype]
    if n == "OFPActionPopVlan":
        return ["pop_vlan"]
    if n == "OFPActionGroup":
        return ["group", a.group_id]
    if n == "OFPActionSetQueue":
        return ["set_queue", a.queue_id]
    if n == "OFPActionDecNwTtl":
        return ["dec_ttl"]  # OVS (and ferrovs) treat OFPAT_DEC_NW_TTL and NXAST_DEC_TTL alike
    if n == "NXActionResubmitTable":
        return ["resubmit", a.in_port, a.table_id]
    if n == "NXActionRegMove":
        return ["reg_move", a.src_field, a.dst_field, a.n_bits, a.src_ofs, a.dst_ofs]
    if n == "NXActionRegLoad":
        return ["reg_load", a.dst, a.ofs_nbits >> 6, (a.ofs_nbits & 0x3f) + 1, a.value]
    if n == "NXActionCT":
        return ["ct", a.flags, a.zone_ofs_nbits, a.recirc_table, a.alg,
                [action_facts(x) for x in a.actions]]
    if n == "NXActionNAT":
        return ["nat", a.flags, a.range_ipv4_min, a.range_ipv4_max, a.range_proto_min, a.range_proto_max]
    if n == "NXActionConjunction":
        return ["conjunction", a.id, a.clause, a.n_clauses]
    if n == "NXActionNote":
        return ["note", list(a.note)]
    if n == "NXActionLearn":
        return ["learn", a.table_id, a.idle_timeout, a.hard_timeout, a.priority, a.cookie, len(a.specs)]
    if n == "NXActionCTClear":
        return ["ct_clear"]
    if n == "NXActionDecTtl":
        return ["dec_ttl"]
    raise ValueError(n)


def inst_facts(i):
    n = type(i).__name__
    if n == "OFPInstructionActions":
        kind = {ofp.OFPIT_APPLY_ACTIONS: "apply", ofp.OFPIT_WRITE_ACTIONS: "write",
                ofp.OFPIT_CLEAR_ACTIONS: "clear"}[i.type]
        return [kind, [action_facts(a) for a in i.actions]]
    if n == "OFPInstructionGotoTable":
        return ["goto_table", i.table_id]
    if n == "OFPInstructionWriteMetadata":
        return ["write_metadata", i.metadata, i.metadata_mask]
    if n == "OFPInstructionMeter":
        return ["meter", i.meter_id]
    raise ValueError(n)


def emit(name, msg, **facts):
    msg.serialize()
    print(json.dumps(dict(name=name, xid=msg.xid, hex=bytes(msg.buf).hex(), **facts)))


def flow_mod(name, match, insts, **kw):
    fm = p.OFPFlowMod(dp, cookie=kw.get("cookie", 0), cookie_mask=kw.get("cookie_mask", 0),
                      table_id=kw.get("table_id", 0), command=kw.get("command", ofp.OFPFC_ADD),
                      idle_timeout=kw.get("idle", 0), hard_timeout=kw.get("hard", 0),
                      priority=kw.get("priority", 0x8000), buffer_id=ofp.OFP_NO_BUFFER,
                      out_port=kw.get("out_port", ofp.OFPP_ANY), out_group=ofp.OFPG_ANY,
                      flags=kw.get("flags", 0), match=match, instructions=insts)
    dp.set_xid(fm)
    emit(name, fm, cookie=fm.cookie, table_id=fm.table_id, command=fm.command, priority=fm.priority,
         idle=fm.idle_timeout, hard=fm.hard_timeout, flags=fm.flags, out_port=fm.out_port,
         match=match_facts(match), instructions=[inst_facts(i) for i in insts])


# Neutron br-int style: drop spoofed ARP, normal, ct-based security groups.
m1 = p.OFPMatch(in_port=1, eth_type=0x0800, ipv4_dst=("198.18.0.0", "255.255.0.0"), ip_proto=6,
                tcp_dst=80, vlan_vid=0x1000 | 10, metadata=(0x10, 0xf0))
flow_mod("flow_mod_oxm", m1, [
    p.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, [
        p.OFPActionSetField(eth_dst="02:00:00:00:00:09"),
        p.OFPActionPopVlan(),
        p.OFPActionPushVlan(0x8100),
        p.OFPActionSetField(vlan_vid=0x1000 | 20),
        p.OFPActionDecNwTtl(),
        p.OFPActionSetQueue(3),
        p.OFPActionGroup(5),
        p.OFPActionOutput(2, 0),
        p.OFPActionOutput(ofp.OFPP_CONTROLLER, 0xffe5),
    ]),
    p.OFPInstructionWriteMetadata(0x1, 0xff),
    p.OFPInstructionGotoTable(3),
], cookie=0x1234, table_id=1, priority=100, idle=30, hard=60, flags=ofp.OFPFF_SEND_FLOW_REM)

m2 = p.OFPMatch(eth_type=0x0800, ct_state=(0x21, 0x21), reg0=7, eth_src="02:00:00:00:00:01",
                tunnel_id=0x55)
flow_mod("flow_mod_nicira", m2, [
    p.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, [
        p.NXActionCT(flags=1, zone_src="", zone_ofs_nbits=9, recirc_table=4, alg=0, actions=[
            p.NXActionNAT(flags=1, range_ipv4_min="198.18.0.1", range_ipv4_max="198.18.0.9",
                          range_proto_min=1000, range_proto_max=2000),
        ]),
        p.NXActionResubmitTable(in_port=0xfff8, table_id=10),
        p.NXActionRegMove(src_field="reg0", dst_field="reg1", n_bits=16, src_ofs=0, dst_ofs=8),
        p.NXActionRegLoad(ofs_nbits=nicira_ext.ofs_nbits(4, 31), dst="reg2", value=0x5),
        p.NXActionNote(note=[1, 2, 3, 4, 5, 6]),
        p.NXActionLearn(table_id=20, specs=[
            p.NXFlowSpecMatch(src=("vlan_tci", 0), dst=("vlan_tci", 0), n_bits=12),
            p.NXFlowSpecLoad(src=("in_port", 0), dst=("reg1", 0), n_bits=16),
            p.NXFlowSpecOutput(src=("in_port", 0), n_bits=16, dst=""),
        ], idle_timeout=300, hard_timeout=0, priority=1, cookie=0x99),
        p.NXActionCTClear(),
        p.NXActionDecTtl(),
    ]),
], priority=2000, table_id=0)

# A conjunction goes with notes only (OVS refuses it among other actions).
flow_mod("flow_mod_conjunction", p.OFPMatch(eth_type=0x0800, ipv4_src="198.18.0.5"), [
    p.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, [
        p.NXActionConjunction(clause=1, n_clauses=2, id_=77),
        p.NXActionNote(note=[1, 2, 3, 4, 5, 6]),
    ]),
], priority=100, table_id=0)

flow_mod("flow_mod_delete", p.OFPMatch(in_port=5), [], command=ofp.OFPFC_DELETE, table_id=ofp.OFPTT_ALL,
         out_port=7, cookie=0xf, cookie_mask=0xff)

po = p.OFPPacketOut(dp, buffer_id=ofp.OFP_NO_BUFFER, in_port=ofp.OFPP_CONTROLLER,
                    actions=[p.OFPActionOutput(3, 0)], data=bytes(range(60)))
dp.set_xid(po)
emit("packet_out", po, in_port=po.in_port, actions=[action_facts(a) for a in po.actions], data_len=60)

gm = p.OFPGroupMod(dp, ofp.OFPGC_ADD, ofp.OFPGT_SELECT, 7, [
    p.OFPBucket(50, ofp.OFPP_ANY, ofp.OFPG_ANY, [p.OFPActionOutput(1, 0)]),
    p.OFPBucket(30, ofp.OFPP_ANY, ofp.OFPG_ANY, [p.OFPActionOutput(2, 0)]),
])
dp.set_xid(gm)
emit("group_mod", gm, command=0, type=1, group_id=7, weights=[50, 30])

mm = p.OFPMeterMod(dp, ofp.OFPMC_ADD, ofp.OFPMF_KBPS | ofp.OFPMF_BURST, 3,
                   [p.OFPMeterBandDrop(rate=1000, burst_size=10)])
dp.set_xid(mm)
emit("meter_mod", mm, command=0, flags=mm.flags, meter_id=3, bands=[[1, 1000, 10]])

for name, req, mtype in [
    ("desc_request", p.OFPDescStatsRequest(dp, 0), 0),
    ("flow_stats_request", p.OFPFlowStatsRequest(dp, 0, 0xff, ofp.OFPP_ANY, ofp.OFPG_ANY, 0, 0,
                                                 p.OFPMatch(in_port=3)), 1),
    ("aggregate_request", p.OFPAggregateStatsRequest(dp, 0, 0xff, ofp.OFPP_ANY, ofp.OFPG_ANY, 0, 0,
                                                      p.OFPMatch()), 2),
    ("table_stats_request", p.OFPTableStatsRequest(dp, 0), 3),
    ("port_stats_request", p.OFPPortStatsRequest(dp, 0, ofp.OFPP_ANY), 4),
    ("queue_stats_request", p.OFPQueueStatsRequest(dp, 0, ofp.OFPP_ANY, ofp.OFPQ_ALL), 5),
    ("group_stats_request", p.OFPGroupStatsRequest(dp, 0, ofp.OFPG_ALL), 6),
    ("group_desc_request", p.OFPGroupDescStatsRequest(dp, 0), 7),
    ("group_features_request", p.OFPGroupFeaturesStatsRequest(dp, 0), 8),
    ("meter_stats_request", p.OFPMeterStatsRequest(dp, 0, ofp.OFPM_ALL), 9),
    ("meter_config_request", p.OFPMeterConfigStatsRequest(dp, 0, ofp.OFPM_ALL), 10),
    ("meter_features_request", p.OFPMeterFeaturesStatsRequest(dp, 0), 11),
    ("table_features_request", p.OFPTableFeaturesStatsRequest(dp, 0, []), 12),
    ("port_desc_request", p.OFPPortDescStatsRequest(dp, 0), 13),
]:
    dp.set_xid(req)
    emit(name, req, multipart_type=mtype)

for name, msg in [
    ("barrier_request", p.OFPBarrierRequest(dp)),
    ("echo_request", p.OFPEchoRequest(dp, data=b"ping")),
    ("features_request", p.OFPFeaturesRequest(dp)),
    ("get_config_request", p.OFPGetConfigRequest(dp)),
    ("set_config", p.OFPSetConfig(dp, ofp.OFPC_FRAG_NORMAL, 0xffe5)),
    ("role_request", p.OFPRoleRequest(dp, ofp.OFPCR_ROLE_MASTER, 5)),
    ("set_async", p.OFPSetAsync(dp, [7, 0], [7, 7], [15, 0])),
    ("port_mod", p.OFPPortMod(dp, 4, "02:00:00:00:00:04", 1, 1, 0)),
    ("table_mod", p.OFPTableMod(dp, 0xff, 3)),
    ("get_async_request", p.OFPGetAsyncRequest(dp)),
]:
    dp.set_xid(msg)
    emit(name, msg)
