//! The `controller` action family on the datapath: a packet-in is a
//! `userspace` action whose cookie names a frozen state.
//!
//! As OVS's `xlate_controller_action`, every packet-in freezes the
//! translation where it is (table, input port, metadata and registers,
//! stack, the action's userdata) under a recirculation id of the
//! datapath's [`super::RecircTable`]; the `userspace` action carries a
//! [`ControllerCookie`] with the same fields as OVS's controller cookie
//! (reason, dont_send, continuation, recirc_id, rule cookie, controller
//! id, max_len). When the datapath hands a packet up with that cookie,
//! the packet-in is rebuilt from the cookie and the frozen state, so every
//! packet of a megaflow makes the same packet-in without a new
//! translation. The id lives while a megaflow's actions name it (the
//! sweep of [`super::freeze::recirc_ids`] counts cookies too), as
//! `recirc(id)` does. The cookie is 21 fixed bytes: encoding and parsing
//! are a few loads, nothing on the datapath's hit path reads it.

use std::fmt;

use ferrovs_datapath::actions::DpAction;
use ferrovs_datapath::flow::layout::FLOW_WORDS;

use super::freeze::{FrozenState, META_WORDS};
use super::{in_port, Ctx, PacketIn};

/// What OVS's `user_action_cookie` of type controller holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControllerCookie {
    /// The packet-in's reason (OFPR_*, OVS's private explicit miss
    /// included).
    pub reason: u8,
    /// Made without side effects (a trace): the datapath's upcall sends
    /// nothing.
    pub dont_send: bool,
    /// A `controller(pause)`: the frozen state is the continuation.
    pub continuation: bool,
    /// The frozen state's recirculation id.
    pub recirc_id: u32,
    pub rule_cookie: u64,
    pub controller_id: u16,
    pub max_len: u16,
}

/// The cookie's first bytes (no other `userspace` cookie starts so).
const MAGIC: &[u8; 3] = b"ctl";
const DONT_SEND: u8 = 1;
const CONTINUATION: u8 = 2;

impl ControllerCookie {
    /// Length of the encoded cookie.
    pub const LEN: usize = 21;

    /// `ctl`, reason, flags (bit 0 dont_send, bit 1 continuation), then
    /// recirc_id, rule cookie, controller id and max_len big-endian.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(Self::LEN);
        v.extend_from_slice(MAGIC);
        v.push(self.reason);
        let mut flags = 0;
        if self.dont_send {
            flags |= DONT_SEND;
        }
        if self.continuation {
            flags |= CONTINUATION;
        }
        v.push(flags);
        v.extend_from_slice(&self.recirc_id.to_be_bytes());
        v.extend_from_slice(&self.rule_cookie.to_be_bytes());
        v.extend_from_slice(&self.controller_id.to_be_bytes());
        v.extend_from_slice(&self.max_len.to_be_bytes());
        v
    }

    /// The cookie `u` encodes, None if it is not a controller cookie.
    pub fn parse(u: &[u8]) -> Option<ControllerCookie> {
        if u.len() != Self::LEN || &u[..3] != MAGIC || u[4] & !(DONT_SEND | CONTINUATION) != 0 {
            return None;
        }
        Some(ControllerCookie {
            reason: u[3],
            dont_send: u[4] & DONT_SEND != 0,
            continuation: u[4] & CONTINUATION != 0,
            recirc_id: u32::from_be_bytes(u[5..9].try_into().ok()?),
            rule_cookie: u64::from_be_bytes(u[9..17].try_into().ok()?),
            controller_id: u16::from_be_bytes([u[17], u[18]]),
            max_len: u16::from_be_bytes([u[19], u[20]]),
        })
    }
}

/// OVS's text (`format_odp_userspace_action`):
/// `controller(reason=1,dont_send=0,continuation=0,recirc_id=1,rule_cookie=0,controller_id=0,max_len=65535)`.
impl fmt::Display for ControllerCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "controller(reason={},dont_send={},continuation={},recirc_id={},rule_cookie=",
            self.reason, self.dont_send as u8, self.continuation as u8, self.recirc_id
        )?;
        // C's %#x: 0 without a prefix.
        if self.rule_cookie == 0 {
            f.write_str("0")?;
        } else {
            write!(f, "{:#x}", self.rule_cookie)?;
        }
        write!(
            f,
            ",controller_id={},max_len={})",
            self.controller_id, self.max_len
        )
    }
}

/// The `userspace` action's text (the pid of a dummy datapath is 0).
pub fn userspace_text(userdata: &[u8]) -> String {
    match ControllerCookie::parse(userdata) {
        Some(c) => format!("userspace(pid=0,{c})"),
        None => {
            let hex: Vec<String> = userdata.iter().map(|b| format!("{b:02x}")).collect();
            format!("userspace(pid=0,userdata({}))", hex.join(""))
        }
    }
}

/// The recirculation id a `userspace` action's cookie keeps alive.
pub fn cookie_recirc_id(userdata: &[u8]) -> Option<u32> {
    ControllerCookie::parse(userdata)
        .map(|c| c.recirc_id)
        .filter(|id| *id != 0)
}

/// The packet-in `cookie` and its frozen `state` describe, in bridge
/// `bridge`: its match holds the input port, `metadata` and the
/// registers at the time of the action (the caller adds the packet's
/// tunnel); a continuation's holds every frozen word.
pub fn packet_in_from(
    c: &ControllerCookie,
    state: &std::sync::Arc<FrozenState>,
    bridge: usize,
) -> PacketIn {
    let mut flow = crate::flow::OfFlow::default();
    if c.continuation {
        state.restore_metadata(&mut flow);
    } else {
        let n = PIPELINE_WORDS;
        let at = crate::flow::W_METADATA;
        flow.0[at..at + n].copy_from_slice(&state.meta[at - FLOW_WORDS..at - FLOW_WORDS + n]);
        super::set_in_port(&mut flow, state.in_port);
    }
    PacketIn {
        bridge,
        reason: c.reason,
        table_id: state.table_id,
        cookie: c.rule_cookie,
        max_len: c.max_len,
        controller_id: c.controller_id,
        userdata: state.userdata.clone(),
        flow,
        continuation: c.continuation.then(|| state.clone()),
    }
}

/// Pipeline words a packet-in's match carries: `metadata` and the eight
/// `xreg` words.
const PIPELINE_WORDS: usize = 9;
const _: () = assert!(crate::flow::W_METADATA - FLOW_WORDS + PIPELINE_WORDS <= META_WORDS);

impl Ctx<'_, '_> {
    /// Without side effects (a trace without `-generate`) the packet-in
    /// is not sent (OVS's `dont_send`), though its datapath action is the
    /// same.
    pub(crate) fn packet_in_dont_send(&self) -> bool {
        self.trace.is_some() && !self.may_learn
    }

    /// OVS's `xlate_controller_action`: freezes the state at this point
    /// (resuming in `table_id`, no actions), and emits the `userspace`
    /// action whose cookie names it. `pi` is the packet-in it makes, for
    /// the caller's report.
    pub(crate) fn controller_action(&mut self, pi: PacketIn) {
        let mut meta = [0u64; META_WORDS];
        meta.copy_from_slice(&self.flow.0[FLOW_WORDS..]);
        let state = FrozenState {
            bridge: self.br().name().to_string(),
            table_id: pi.table_id,
            in_port: in_port(&self.flow),
            meta,
            stack: self.stack.clone(),
            actions: Vec::new(),
            action_set: Vec::new(),
            userdata: pi.userdata.clone(),
            conntracked: self.conntracked,
            hashed: false,
        };
        let Some(id) = self.alloc_state(state) else {
            return;
        };
        let cookie = ControllerCookie {
            reason: pi.reason,
            dont_send: self.packet_in_dont_send(),
            continuation: false,
            recirc_id: id,
            rule_cookie: pi.cookie,
            controller_id: pi.controller_id,
            max_len: pi.max_len,
        };
        self.out.packet_ins.push(pi);
        self.out.actions.push(DpAction::Userspace {
            userdata: cookie.to_bytes().into(),
        });
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::flow::OfFlow;
    use crate::xlate::{set_in_port, REASON_PACKET_OUT};

    fn cookie(continuation: bool) -> ControllerCookie {
        ControllerCookie {
            reason: REASON_PACKET_OUT,
            dont_send: false,
            continuation,
            recirc_id: 77,
            rule_cookie: 0x1234,
            controller_id: 9,
            max_len: 20,
        }
    }

    #[test]
    fn cookie_round_trip_and_text() {
        for c in [cookie(false), cookie(true)] {
            assert_eq!(ControllerCookie::parse(&c.to_bytes()), Some(c));
        }
        let c = ControllerCookie {
            dont_send: true,
            ..cookie(false)
        };
        assert_eq!(ControllerCookie::parse(&c.to_bytes()), Some(c));
        assert_eq!(
            userspace_text(&c.to_bytes()),
            "userspace(pid=0,controller(reason=5,dont_send=1,continuation=0,recirc_id=77,\
             rule_cookie=0x1234,controller_id=9,max_len=20))"
        );
        // C's %#x prints a zero cookie without 0x.
        let c = ControllerCookie {
            rule_cookie: 0,
            ..cookie(true)
        };
        assert!(c.to_string().contains(",continuation=1,"));
        assert!(c.to_string().contains(",rule_cookie=0,"));
        assert_eq!(cookie_recirc_id(&c.to_bytes()), Some(77));
        // Not ours, cut short, or unknown flags: nothing.
        let u = c.to_bytes();
        assert_eq!(ControllerCookie::parse(b"ctl"), None);
        assert_eq!(ControllerCookie::parse(&u[..20]), None);
        let mut bad = u.clone();
        bad[4] |= 4;
        assert_eq!(ControllerCookie::parse(&bad), None);
        assert_eq!(cookie_recirc_id(&bad), None);
    }

    /// The packet-in comes back from the cookie and the frozen state: the
    /// input port, metadata and registers at the time of the action and
    /// its userdata; a continuation keeps the state.
    #[test]
    fn packet_in_from_cookie_and_state() {
        let mut flow = OfFlow::default();
        set_in_port(&mut flow, 0xfffe);
        flow.0[crate::flow::W_METADATA] = 0xfeed;
        flow.0[crate::flow::W_REGS + 7] = 0x1_0000_0002;
        let mut meta = [0u64; META_WORDS];
        meta.copy_from_slice(&flow.0[FLOW_WORDS..]);
        let state = Arc::new(FrozenState {
            bridge: "br0".into(),
            table_id: 7,
            in_port: 0xfffe,
            meta,
            stack: Vec::new(),
            actions: Vec::new(),
            action_set: Vec::new(),
            userdata: vec![1, 2, 3],
            conntracked: false,
            hashed: false,
        });
        let pi = packet_in_from(&cookie(false), &state, 2);
        assert_eq!(
            (pi.bridge, pi.reason, pi.table_id, pi.cookie),
            (2, REASON_PACKET_OUT, 7, 0x1234)
        );
        assert_eq!((pi.max_len, pi.controller_id), (20, 9));
        assert_eq!(pi.userdata, vec![1, 2, 3]);
        assert_eq!(pi.flow, flow);
        assert!(pi.continuation.is_none());
        let pi = packet_in_from(&cookie(true), &state, 2);
        assert_eq!(pi.flow, flow);
        assert!(pi.continuation.is_some_and(|s| Arc::ptr_eq(&s, &state)));
    }
}
