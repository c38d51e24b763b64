//! The flow table the OpenFlow benchmarks load: flow `i` matches
//! `ip,nw_dst=198.18.(i>>8).(i&255)` at priority `100 + i % 16` and
//! outputs to port 1, as `scripts/ofproto-flows-compare.sh` writes it for
//! `ovs-ofctl add-flows` (the same flow-mods, encoded by ferrovs).

use ferrovs_openflow::action::Action;
use ferrovs_openflow::message::FlowMod;
use ferrovs_openflow::{Field, Instruction, Match, Value};

/// Flow `i` of the table (an `add` flow-mod).
pub fn flow_mod(i: u32) -> FlowMod {
    let mut m = Match::new();
    m.set_exact(Field::EthType, Value::from_u16(0x0800));
    m.set_exact(Field::IpDst, Value::from_u32(0xc612_0000 | i));
    FlowMod {
        priority: 100 + (i % 16) as u16,
        r#match: m,
        instructions: vec![Instruction::ApplyActions(vec![Action::Output {
            port: 1,
            max_len: 0,
        }])],
        ..FlowMod::default()
    }
}
