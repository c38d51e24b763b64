"""A Neutron-OVS-agent-style os-ken application: on connecting it installs
its br-int / br-tun flow tables with this run's cookie, then removes every
flow whose cookie is not its own, as the agent does after a restart
(install all flows again with a new cookie, dump the table, delete each
stale cookie with an exact cookie mask). Flows whose match and priority did
not change are replaced in place, so traffic through them never stops.

Usage: osken_agent_restart.py PORT COOKIE GENERATION INT_DPID TUN_DPID
  (COOKIE and the dpids in hex; generation 1 installs one flow that
  generation 2 no longer has, generation 2 one new flow)

Lines printed, per bridge (br-int / br-tun, known by datapath id):
  FLOWS <bridge> before|after <table>:<priority>:<cookie> ...   (sorted)
  STALE <bridge> <cookies deleted>
  DONE <bridge>
  ERROR type=.. code=..
"""
import sys

from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import (CONFIG_DISPATCHER, MAIN_DISPATCHER,
                                       set_ev_cls)
from os_ken.ofproto import ofproto_v1_3

from osken_launch import run, say

UINT64_MAX = (1 << 64) - 1

# Neutron's table numbers (neutron/plugins/ml2/drivers/openvswitch/agent/
# common/constants.py): br-int LOCAL_SWITCHING 0, CANARY 23, ARP_SPOOF 24,
# TRANSIENT 60; br-tun PATCH_LV_TO_TUN 2, UCAST_TO_TUN 20, FLOOD_TO_TUN 22.


def br_int_flows(p, ofp, gen):
    goto = p.OFPInstructionGotoTable
    normal = p.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS,
                                     [p.OFPActionOutput(ofp.OFPP_NORMAL)])
    flows = [
        # (table, priority, match, instructions)
        (0, 65535, p.OFPMatch(vlan_vid=ofproto_v1_3.OFPVID_PRESENT | 4095), []),
        (0, 0, p.OFPMatch(), [goto(60)]),
        (23, 0, p.OFPMatch(), []),
        (24, 0, p.OFPMatch(), []),
        (60, 3, p.OFPMatch(), [normal]),
    ]
    if gen == 1:
        flows.append((0, 2, p.OFPMatch(eth_src="02:00:00:00:00:99"), []))
    else:
        flows.append((0, 2, p.OFPMatch(eth_type=0x88cc), []))
    return flows


def br_tun_flows(p, ofp, gen):
    goto = p.OFPInstructionGotoTable
    return [
        (0, 1, p.OFPMatch(in_port=1), [goto(2)]),
        (0, 0, p.OFPMatch(), []),
        (2, 0, p.OFPMatch(), [goto(20)]),
        (20, 0, p.OFPMatch(), [goto(22)]),
        (22, 0, p.OFPMatch(), []),
    ]


class AgentRestart(app_manager.OSKenApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _, self.cookie, gen, int_dpid, tun_dpid = sys.argv[1:6]
        self.cookie = int(self.cookie, 16)
        self.gen = int(gen)
        self.bridges = {int(int_dpid, 16): ("br-int", br_int_flows),
                        int(tun_dpid, 16): ("br-tun", br_tun_flows)}
        self.state = {}

    @set_ev_cls(ofp_event.EventOFPErrorMsg, [CONFIG_DISPATCHER, MAIN_DISPATCHER])
    def error(self, ev):
        say(f"ERROR type={ev.msg.type} code={ev.msg.code}")

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def features(self, ev):
        dp = ev.msg.datapath
        name, flows = self.bridges[dp.id]
        ofp, p = dp.ofproto, dp.ofproto_parser
        for table, prio, match, inst in flows(p, ofp, self.gen):
            dp.send_msg(p.OFPFlowMod(dp, cookie=self.cookie, table_id=table,
                                     priority=prio, match=match,
                                     instructions=inst))
        self.state[dp.id] = "installed"
        dp.send_msg(p.OFPBarrierRequest(dp))

    @set_ev_cls(ofp_event.EventOFPBarrierReply, MAIN_DISPATCHER)
    def barrier(self, ev):
        dp = ev.msg.datapath
        dp.send_msg(dp.ofproto_parser.OFPFlowStatsRequest(
            dp, table_id=dp.ofproto.OFPTT_ALL))

    @set_ev_cls(ofp_event.EventOFPFlowStatsReply, MAIN_DISPATCHER)
    def flow_stats(self, ev):
        dp = ev.msg.datapath
        name = self.bridges[dp.id][0]
        flows = sorted((f.table_id, f.priority, f.cookie) for f in ev.msg.body)
        p, ofp = dp.ofproto_parser, dp.ofproto
        if self.state[dp.id] == "installed":
            say(f"FLOWS {name} before " +
                " ".join(f"{t}:{pr}:{c:#x}" for t, pr, c in flows))
            stale = sorted({c for _, _, c in flows} - {self.cookie})
            say(f"STALE {name} " + " ".join(f"{c:#x}" for c in stale))
            for c in stale:
                dp.send_msg(p.OFPFlowMod(dp, command=ofp.OFPFC_DELETE,
                                         table_id=ofp.OFPTT_ALL, cookie=c,
                                         cookie_mask=UINT64_MAX,
                                         out_port=ofp.OFPP_ANY,
                                         out_group=ofp.OFPG_ANY))
            self.state[dp.id] = "cleaned"
            dp.send_msg(p.OFPBarrierRequest(dp))
        else:
            say(f"FLOWS {name} after " +
                " ".join(f"{t}:{pr}:{c:#x}" for t, pr, c in flows))
            say(f"DONE {name}")


if __name__ == "__main__":
    run([__name__], int(sys.argv[1]))
