"""An os-ken OpenFlow 1.3 controller that reads what a switch says of itself
and installs flows and a group, then waits for flow-removed messages.

Usage: osken_controller_check.py PORT

It prints one line per observation, in an order that does not depend on
timing, so that the Rust test compares ferrovs's lines with OVS's:

  FEATURES dpid=... n_tables=... capabilities=...
  PORTS <no>:<name>:<LOCAL's hw_addr>:state=..:config=.. ...  (sorted)
  ERROR type=.. code=..                  (any OFPT_ERROR; none expected)
  FLOWS <cookie> prio=.. idle=.. hard=.. flags=.. match=.. instructions=..
  GROUPS <id> type=.. buckets=..
  REMOVED cookie=.. reason=.. prio=.. idle=.. hard=.. match=..
  AFTER <cookies left in the table>
  DONE
"""
import sys

from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import (CONFIG_DISPATCHER, MAIN_DISPATCHER,
                                       set_ev_cls)
from os_ken.ofproto import ofproto_v1_3

from osken_launch import run, say

GROUP_ID = 7


def port_name(no):
    return "LOCAL" if no == ofproto_v1_3.OFPP_LOCAL else str(no)


class ControllerCheck(app_manager.OSKenApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.removed = []
        self.phase = "install"

    @set_ev_cls(ofp_event.EventOFPErrorMsg, [CONFIG_DISPATCHER, MAIN_DISPATCHER])
    def error(self, ev):
        say(f"ERROR type={ev.msg.type} code={ev.msg.code}")

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def features(self, ev):
        m = ev.msg
        say(f"FEATURES dpid={m.datapath_id:016x} n_tables={m.n_tables} "
            f"capabilities={m.capabilities:#x}")
        dp = m.datapath
        dp.send_msg(dp.ofproto_parser.OFPPortDescStatsRequest(dp, 0))

    @set_ev_cls(ofp_event.EventOFPPortDescStatsReply, MAIN_DISPATCHER)
    def port_desc(self, ev):
        ports = sorted(ev.msg.body, key=lambda p: p.port_no)
        # OVS numbers its dummy ports' MACs in creation order, which varies;
        # the LOCAL port's is the bridge's other_config:hwaddr.
        say("PORTS " + " ".join(
            f"{port_name(p.port_no)}:{p.name.decode()}:"
            f"{p.hw_addr if p.port_no == ofproto_v1_3.OFPP_LOCAL else 'mac'}"
            f":state={p.state}:config={p.config}" for p in ports))
        self.install(ev.msg.datapath, [p.port_no for p in ports
                                       if p.port_no < ofproto_v1_3.OFPP_MAX])

    def install(self, dp, ports):
        ofp, p = dp.ofproto, dp.ofproto_parser
        buckets = [p.OFPBucket(actions=[p.OFPActionOutput(n)]) for n in ports]
        dp.send_msg(p.OFPGroupMod(dp, ofp.OFPGC_ADD, ofp.OFPGT_ALL, GROUP_ID,
                                  buckets))

        def flow(cookie, prio, match, actions, idle=0, hard=0, flags=0):
            inst = [p.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, actions)]
            dp.send_msg(p.OFPFlowMod(dp, cookie=cookie, priority=prio,
                                     match=match, instructions=inst,
                                     idle_timeout=idle, hard_timeout=hard,
                                     flags=flags))

        rem = ofp.OFPFF_SEND_FLOW_REM
        flow(0x1, 100, p.OFPMatch(in_port=ports[0]), [p.OFPActionGroup(GROUP_ID)])
        flow(0x10, 200, p.OFPMatch(eth_type=0x0800, ipv4_dst="198.18.0.9"),
             [p.OFPActionOutput(ports[1])], idle=1, flags=rem)
        flow(0x20, 201, p.OFPMatch(eth_type=0x0806), [p.OFPActionOutput(ports[1])],
             hard=2, flags=rem)
        # Expires silently: no send_flow_rem.
        flow(0x30, 202, p.OFPMatch(eth_type=0x86dd), [], hard=1)
        dp.send_msg(p.OFPBarrierRequest(dp))

    @set_ev_cls(ofp_event.EventOFPBarrierReply, MAIN_DISPATCHER)
    def barrier(self, ev):
        dp = ev.msg.datapath
        p = dp.ofproto_parser
        dp.send_msg(p.OFPFlowStatsRequest(dp, table_id=dp.ofproto.OFPTT_ALL))
        if self.phase == "install":
            dp.send_msg(p.OFPGroupDescStatsRequest(dp, 0))

    @set_ev_cls(ofp_event.EventOFPFlowStatsReply, MAIN_DISPATCHER)
    def flow_stats(self, ev):
        flows = sorted(ev.msg.body, key=lambda f: f.cookie)
        if self.phase == "install":
            for f in flows:
                say(f"FLOWS {f.cookie:#x} table={f.table_id} prio={f.priority} "
                    f"idle={f.idle_timeout} hard={f.hard_timeout} "
                    f"flags={f.flags:#x} match={sorted(f.match.items())} "
                    f"instructions={f.instructions}")
        else:
            say("AFTER " + " ".join(f"{f.cookie:#x}" for f in flows))
            say("DONE")

    @set_ev_cls(ofp_event.EventOFPGroupDescStatsReply, MAIN_DISPATCHER)
    def group_desc(self, ev):
        for g in sorted(ev.msg.body, key=lambda g: g.group_id):
            say(f"GROUPS {g.group_id} type={g.type} buckets={g.buckets}")
        self.phase = "wait"

    @set_ev_cls(ofp_event.EventOFPFlowRemoved, MAIN_DISPATCHER)
    def flow_removed(self, ev):
        m = ev.msg
        ofp = m.datapath.ofproto
        reason = {ofp.OFPRR_IDLE_TIMEOUT: "idle_timeout",
                  ofp.OFPRR_HARD_TIMEOUT: "hard_timeout",
                  ofp.OFPRR_DELETE: "delete",
                  ofp.OFPRR_GROUP_DELETE: "group_delete"}.get(m.reason, m.reason)
        self.removed.append(
            f"REMOVED cookie={m.cookie:#x} reason={reason} prio={m.priority} "
            f"idle={m.idle_timeout} hard={m.hard_timeout} "
            f"match={sorted(m.match.items())} packets={m.packet_count}")
        if len(self.removed) == 2:
            for line in sorted(self.removed):
                say(line)
            self.phase = "after"
            dp = m.datapath
            # The silent hard_timeout=1 flow is gone by now as well.
            dp.send_msg(dp.ofproto_parser.OFPBarrierRequest(dp))


if __name__ == "__main__":
    run([__name__], int(sys.argv[1]))
