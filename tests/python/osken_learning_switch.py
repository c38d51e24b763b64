"""An os-ken OpenFlow 1.3 learning switch, as os-ken's simple_switch_13
sample does it: a table-miss flow sends every packet to the controller,
which learns source MAC -> in_port, floods unknown destinations with a
packet-out, and installs a flow (in_port, eth_src, eth_dst -> output) once
the destination is known, so later packets no longer reach it.

Usage: osken_learning_switch.py PORT

Lines printed:
  CONNECTED dpid=...
  PACKET_IN eth_type=0x.... in_port=N src=... dst=...
  FLOW in_port=N src=... dst=... out=N
  ERROR type=.. code=..
"""
import sys

from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import (CONFIG_DISPATCHER, MAIN_DISPATCHER,
                                       set_ev_cls)
from os_ken.lib.packet import ethernet, packet
from os_ken.ofproto import ofproto_v1_3

from osken_launch import run, say


class LearningSwitch(app_manager.OSKenApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.mac_to_port = {}

    @set_ev_cls(ofp_event.EventOFPErrorMsg, [CONFIG_DISPATCHER, MAIN_DISPATCHER])
    def error(self, ev):
        say(f"ERROR type={ev.msg.type} code={ev.msg.code}")

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def features(self, ev):
        dp = ev.msg.datapath
        ofp, p = dp.ofproto, dp.ofproto_parser
        self.add_flow(dp, 0, p.OFPMatch(),
                      [p.OFPActionOutput(ofp.OFPP_CONTROLLER, ofp.OFPCML_NO_BUFFER)])
        say(f"CONNECTED dpid={dp.id:016x}")

    def add_flow(self, dp, prio, match, actions):
        ofp, p = dp.ofproto, dp.ofproto_parser
        inst = [p.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, actions)]
        dp.send_msg(p.OFPFlowMod(dp, priority=prio, match=match, instructions=inst))

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def packet_in(self, ev):
        msg = ev.msg
        dp = msg.datapath
        ofp, p = dp.ofproto, dp.ofproto_parser
        in_port = msg.match["in_port"]
        eth = packet.Packet(msg.data).get_protocols(ethernet.ethernet)[0]
        say(f"PACKET_IN eth_type={eth.ethertype:#06x} in_port={in_port} "
            f"src={eth.src} dst={eth.dst}")
        ports = self.mac_to_port.setdefault(dp.id, {})
        ports[eth.src] = in_port
        out = ports.get(eth.dst, ofp.OFPP_FLOOD)
        actions = [p.OFPActionOutput(out)]
        if out != ofp.OFPP_FLOOD:
            self.add_flow(dp, 1, p.OFPMatch(in_port=in_port, eth_src=eth.src,
                                            eth_dst=eth.dst), actions)
            say(f"FLOW in_port={in_port} src={eth.src} dst={eth.dst} out={out}")
        data = msg.data if msg.buffer_id == ofp.OFP_NO_BUFFER else None
        dp.send_msg(p.OFPPacketOut(dp, buffer_id=msg.buffer_id, in_port=in_port,
                                   actions=actions, data=data))


if __name__ == "__main__":
    run([__name__], int(sys.argv[1]))
