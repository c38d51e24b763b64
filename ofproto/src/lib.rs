//! ferrovs-ofproto: the OpenFlow switch.
//!
//! Will own the flow tables and their classifier, flow-mod semantics, groups,
//! meters, the connection manager, and translation (xlate) of a packet
//! through the tables into datapath actions plus a megaflow mask, NORMAL
//! (MAC learning, VLAN modes) and patch ports. Translation is pure:
//! (flow, bridge state) -> (datapath actions, mask).
//!
//! Nothing lives here yet; the datapath and OpenFlow crates it builds on come
//! first.
