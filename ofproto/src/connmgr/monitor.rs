//! Flow monitors (NXST_FLOW_MONITOR, and OpenFlow 1.4+ OFPMP_FLOW_MONITOR):
//! a connection asks to hear about rules that match a filter being added,
//! modified or deleted. OpenFlow 1.4 flags are kept in their Nicira
//! equivalents (as OVS maps them); updates are encoded in the form of the
//! request that asked for them.
//!
//! Each [`Monitor`] keeps its filter in canonical form; on every committed
//! change the switch calls [`Connection::report_rule`] for each connection,
//! which appends an update to `pending_updates`; they are flushed as one
//! NXST_FLOW_MONITOR reply (xid 0) per flow-mod.

use ferrovs_openflow::message::multipart::{MpReply, MultipartReply};
use ferrovs_openflow::message::nicira::{FlowMonitorRequest, FlowUpdate};
use ferrovs_openflow::message::Message;
use ferrovs_openflow::port::OFPP_NONE;
use ferrovs_openflow::{ErrorCode, Instruction, PortNo};

use super::dispatch::Handled;
use super::Connection;
use crate::flow::OfMatch;
use crate::flow_mod::RuleEvent;
use crate::rule::Rule;

pub const NXFMF_INITIAL: u16 = 1;
pub const NXFMF_ADD: u16 = 2;
pub const NXFMF_DELETE: u16 = 4;
pub const NXFMF_MODIFY: u16 = 8;
pub const NXFMF_ACTIONS: u16 = 16;
pub const NXFMF_OWN: u16 = 32;

#[derive(Debug, Clone)]
pub struct Monitor {
    pub id: u32,
    /// NXFMF_* bits.
    pub flags: u16,
    pub out_port: PortNo,
    pub table_id: u8,
    pub om: OfMatch,
}

/// OFPFMF_* (1.4) to NXFMF_* flags, as OVS's `ofp_to_nx_flow_monitor_flags`.
fn of14_to_nx_flags(f: u16) -> u16 {
    let mut nx = f & 0xf; // INITIAL, ADD, REMOVED->DELETE, MODIFY
    if f & 16 != 0 {
        nx |= NXFMF_ACTIONS;
    }
    if f & 64 != 0 {
        nx |= NXFMF_OWN;
    }
    nx
}

/// One OpenFlow 1.4 `ofp14_flow_monitor_request`: (command, monitor), or
/// the error OVS gives.
fn parse_of14_request(b: &[u8]) -> Result<(u8, Monitor, usize), ErrorCode> {
    if b.len() < 16 {
        return Err(ErrorCode::OfpbrcBadLen);
    }
    let be32 = |o: usize| u32::from_be_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
    let id = be32(0);
    let out_port = ferrovs_openflow::port::from_ofp11(be32(4)).map_err(|e| e.code)?;
    let flags = u16::from_be_bytes([b[12], b[13]]);
    let table_id = b[14];
    let command = b[15];
    let (m, n) = ferrovs_openflow::Match::decode_ofp12(&b[16..]).map_err(|e| e.code)?;
    if command != 2 && (flags & (2 | 4 | 8) == 0 || flags & !(1 | 2 | 4 | 8 | 16 | 64) != 0) {
        return Err(ErrorCode::OfpmofcBadFlags);
    }
    if command > 2 {
        return Err(ErrorCode::OfpmofcBadCommand);
    }
    let om = OfMatch::from_match(&m).map_err(|e| e.code())?;
    let mon = Monitor {
        id,
        flags: of14_to_nx_flags(flags),
        out_port,
        table_id,
        om,
    };
    Ok((command, mon, 16 + n))
}

/// ONF's flow monitor extension in OpenFlow 1.3 (ONFST_FLOW_MONITOR
/// multipart type and ONFT_FLOW_MONITOR_CANCEL message).
pub const ONF_FLOW_MONITOR: u32 = 1870;

/// One `onf_flow_monitor_request` (OpenFlow 1.3): the monitor and the
/// bytes it took, or the error OVS gives.
fn parse_onf_request(b: &[u8]) -> Result<(Monitor, usize), ErrorCode> {
    if b.len() < 16 {
        return Err(ErrorCode::OfpbrcBadLen);
    }
    let id = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    let flags = u16::from_be_bytes([b[4], b[5]]);
    let out_port =
        ferrovs_openflow::port::from_ofp11(u32::from_be_bytes([b[8], b[9], b[10], b[11]]))
            .map_err(|e| e.code)?;
    let table_id = b[12];
    if flags & (2 | 4 | 8) == 0 || flags & !0x3f != 0 {
        return Err(ErrorCode::OfpmofcBadFlags);
    }
    if b[13..16] != [0, 0, 0] {
        return Err(ErrorCode::NxbrcMustBeZero);
    }
    let (m, n) = ferrovs_openflow::Match::decode_ofp12(&b[16..]).map_err(|e| e.code)?;
    let om = OfMatch::from_match(&m).map_err(|e| e.code())?;
    Ok((
        Monitor {
            id,
            flags,
            out_port,
            table_id,
            om,
        },
        16 + n,
    ))
}

/// Encodes updates as OVS does for OpenFlow 1.3 (NXST and ONFST alike):
/// `nx_flow_update_full` with an OXM `ofp_match` and instructions.
pub fn encode_of13_updates(v: ferrovs_openflow::Version, updates: &[FlowUpdate]) -> Vec<u8> {
    let mut out = Vec::new();
    for u in updates {
        let s = out.len();
        match u {
            FlowUpdate::Abbrev { xid } => {
                out.extend_from_slice(&8u16.to_be_bytes());
                out.extend_from_slice(&3u16.to_be_bytes());
                out.extend_from_slice(&xid.to_be_bytes());
            }
            FlowUpdate::Full {
                event,
                reason,
                priority,
                idle_timeout,
                hard_timeout,
                table_id,
                cookie,
                r#match,
                actions,
            } => {
                out.extend_from_slice(&0u16.to_be_bytes());
                out.extend_from_slice(&event.to_be_bytes());
                out.extend_from_slice(&reason.to_be_bytes());
                out.extend_from_slice(&priority.to_be_bytes());
                out.extend_from_slice(&idle_timeout.to_be_bytes());
                out.extend_from_slice(&hard_timeout.to_be_bytes());
                out.extend_from_slice(&0u16.to_be_bytes());
                out.push(*table_id);
                out.push(0);
                out.extend_from_slice(&cookie.to_be_bytes());
                let m = out.len();
                r#match.encode_ofp12(v, &mut out);
                let match_len = u16::from_be_bytes([out[m + 2], out[m + 3]]);
                out[s + 12..s + 14].copy_from_slice(&match_len.to_be_bytes());
                if !actions.is_empty() {
                    Instruction::encode_list(
                        v,
                        &[Instruction::ApplyActions(actions.clone())],
                        &mut out,
                    );
                }
                let len = (out.len() - s) as u16;
                out[s..s + 2].copy_from_slice(&len.to_be_bytes());
            }
        }
    }
    out
}

/// The multipart reply carrying updates in `conn`'s form.
fn updates_reply(conn: &Connection, updates: Vec<FlowUpdate>, initial: bool) -> MpReply {
    let v = conn.ver();
    if v >= ferrovs_openflow::Version::Of14 {
        MpReply::Other {
            type_: 16,
            body: encode_of14_updates(v, &updates, initial),
        }
    } else if v == ferrovs_openflow::Version::Of10 {
        MpReply::NxFlowMonitor(updates)
    } else if conn.monitor_onf {
        MpReply::Experimenter {
            experimenter: crate::bundle::ONF_EXPERIMENTER,
            exp_type: ONF_FLOW_MONITOR,
            body: encode_of13_updates(v, &updates),
        }
    } else {
        // NXST_FLOW_MONITOR in 1.1-1.3: OXM matches and instructions.
        MpReply::Experimenter {
            experimenter: ferrovs_openflow::message::nicira::NX_VENDOR,
            exp_type: 2,
            body: encode_of13_updates(v, &updates),
        }
    }
}

/// Encodes updates in the OpenFlow 1.4 `ofp_flow_update_*` form. `initial`:
/// the reply to the request (event INITIAL instead of ADDED).
pub fn encode_of14_updates(
    v: ferrovs_openflow::Version,
    updates: &[FlowUpdate],
    initial: bool,
) -> Vec<u8> {
    let mut out = Vec::new();
    for u in updates {
        let s = out.len();
        match u {
            FlowUpdate::Abbrev { xid } => {
                out.extend_from_slice(&8u16.to_be_bytes());
                out.extend_from_slice(&4u16.to_be_bytes());
                out.extend_from_slice(&xid.to_be_bytes());
            }
            FlowUpdate::Full {
                event,
                reason,
                priority,
                idle_timeout,
                hard_timeout,
                table_id,
                cookie,
                r#match,
                actions,
            } => {
                // NX ADDED 0, DELETED 1, MODIFIED 2 -> 1.4 ADDED 1,
                // REMOVED 2, MODIFIED 3 (INITIAL 0 in a request's reply).
                let ev: u16 = if initial { 0 } else { event + 1 };
                out.extend_from_slice(&0u16.to_be_bytes());
                out.extend_from_slice(&ev.to_be_bytes());
                out.push(*table_id);
                out.push(*reason as u8);
                out.extend_from_slice(&idle_timeout.to_be_bytes());
                out.extend_from_slice(&hard_timeout.to_be_bytes());
                out.extend_from_slice(&priority.to_be_bytes());
                out.extend_from_slice(&[0; 4]);
                out.extend_from_slice(&cookie.to_be_bytes());
                r#match.encode_ofp12(v, &mut out);
                if !actions.is_empty() {
                    Instruction::encode_list(
                        v,
                        &[Instruction::ApplyActions(actions.clone())],
                        &mut out,
                    );
                }
                let len = (out.len() - s) as u16;
                out[s..s + 2].copy_from_slice(&len.to_be_bytes());
            }
        }
    }
    out
}

impl Monitor {
    pub fn from_request(r: &FlowMonitorRequest) -> Result<Monitor, ErrorCode> {
        if r.flags & !0x3f != 0 {
            return Err(ErrorCode::OfpmofcBadFlags);
        }
        let om = OfMatch::from_match(&r.r#match).map_err(|e| e.code())?;
        Ok(Monitor {
            id: r.id,
            flags: r.flags,
            out_port: r.out_port,
            table_id: r.table_id,
            om,
        })
    }

    /// True if `rule` is in this monitor's scope.
    pub fn selects(&self, rule: &Rule) -> bool {
        (self.table_id == 0xff || self.table_id == rule.table_id)
            && rule.om().is_covered_by(&self.om)
            && (self.out_port == OFPP_NONE || rule.has_out_port(self.out_port))
    }
}

/// The full update for `rule`.
pub fn full_update(rule: &Rule, event: u16, reason: u16, with_actions: bool) -> FlowUpdate {
    FlowUpdate::Full {
        event,
        reason,
        priority: rule.priority,
        idle_timeout: rule.idle_timeout,
        hard_timeout: rule.hard_timeout,
        table_id: rule.table_id,
        cookie: rule.cookie,
        r#match: rule.r#match.clone(),
        actions: if with_actions {
            Instruction::flat_actions(&rule.instructions)
        } else {
            Vec::new()
        },
    }
}

impl Connection {
    pub fn cancel_monitor(&mut self, id: u32) -> Handled {
        let n = self.monitors.len();
        self.monitors.retain(|m| m.id != id);
        if self.monitors.len() == n {
            return Err(ErrorCode::OfpmofcUnknownMonitor);
        }
        Ok(())
    }

    /// Records the update for `rule` if a monitor wants it. `own_xid` is
    /// set when this connection made the change.
    pub fn report_rule(&mut self, rule: &Rule, ev: RuleEvent, own_xid: Option<u32>) {
        let (flag, event, reason) = match ev {
            RuleEvent::Added => (NXFMF_ADD, 0u16, 0u16),
            RuleEvent::Removed(r) => (NXFMF_DELETE, 1, r as u16),
            RuleEvent::Modified => (NXFMF_MODIFY, 2, 0),
        };
        let mut flags = 0;
        for m in &self.monitors {
            if m.flags & flag != 0 && m.selects(rule) {
                flags |= m.flags;
            }
        }
        if flags == 0 {
            return;
        }
        if let Some(xid) = own_xid {
            if flags & NXFMF_OWN == 0 {
                return;
            }
            self.pending_updates.push(FlowUpdate::Abbrev { xid });
            return;
        }
        self.pending_updates
            .push(full_update(rule, event, reason, flags & NXFMF_ACTIONS != 0));
    }

    /// Sends the recorded updates as one NXST_FLOW_MONITOR reply (one
    /// OFPMP_FLOW_MONITOR reply in OpenFlow 1.4+).
    pub fn flush_updates(&mut self) {
        if self.pending_updates.is_empty() {
            return;
        }
        let updates = std::mem::take(&mut self.pending_updates);
        let body = updates_reply(self, updates, false);
        self.send_async(&Message::MultipartReply(MultipartReply { flags: 0, body }));
    }
}

impl crate::ofproto::Ofproto {
    /// OFPMP_FLOW_MONITOR request (1.4+): add, modify (replace) or delete
    /// monitors; replies with the rules that new INITIAL monitors select.
    pub(crate) fn of14_monitors(
        &mut self,
        conn: &mut Connection,
        body: &[u8],
        xid: u32,
    ) -> Handled {
        let mut rest = body;
        let mut add = Vec::new();
        while !rest.is_empty() {
            let (command, mon, n) = parse_of14_request(rest)?;
            rest = &rest[n.min(rest.len())..];
            match command {
                0 => {
                    if conn
                        .monitors
                        .iter()
                        .chain(add.iter())
                        .any(|m: &Monitor| m.id == mon.id)
                    {
                        return Err(ErrorCode::OfpmofcMonitorExists);
                    }
                    add.push(mon);
                }
                1 => {
                    conn.cancel_monitor(mon.id)?;
                    add.push(mon);
                }
                _ => conn.cancel_monitor(mon.id)?,
            }
        }
        let initial = self.initial_updates(&add);
        conn.monitors.extend(add);
        let v = conn.ver();
        let enc = encode_of14_updates(v, &initial, true);
        crate::stats::send_split(conn, xid, vec![enc], |e: Vec<Vec<u8>>| MpReply::Other {
            type_: 16,
            body: e.concat(),
        });
        Ok(())
    }

    fn initial_updates(&self, monitors: &[Monitor]) -> Vec<FlowUpdate> {
        let mut initial = Vec::new();
        for m in monitors {
            if m.flags & NXFMF_INITIAL == 0 {
                continue;
            }
            for t in &self.tables.t {
                for (_, rule) in t.cls.iter() {
                    if m.selects(rule) {
                        initial.push(full_update(rule, 0, 0, m.flags & NXFMF_ACTIONS != 0));
                    }
                }
            }
        }
        initial
    }

    /// ONFST_FLOW_MONITOR request (OpenFlow 1.3, ONF extension).
    pub(crate) fn onf_monitors(&mut self, conn: &mut Connection, body: &[u8], xid: u32) -> Handled {
        let mut rest = body;
        let mut add: Vec<Monitor> = Vec::new();
        while !rest.is_empty() {
            let (mon, n) = parse_onf_request(rest)?;
            rest = &rest[n.min(rest.len())..];
            if conn
                .monitors
                .iter()
                .chain(add.iter())
                .any(|m| m.id == mon.id)
            {
                return Err(ErrorCode::OfpmofcMonitorExists);
            }
            add.push(mon);
        }
        let initial = self.initial_updates(&add);
        conn.monitors.extend(add);
        conn.monitor_onf = true;
        let reply = updates_reply(conn, initial, true);
        conn.send(
            &ferrovs_openflow::message::Message::MultipartReply(
                ferrovs_openflow::message::MultipartReply {
                    flags: 0,
                    body: reply,
                },
            ),
            xid,
        );
        Ok(())
    }

    /// NXST_FLOW_MONITOR request: installs the monitors, replies with the
    /// rules that those with NXFMF_INITIAL select.
    pub(crate) fn add_monitors(
        &mut self,
        conn: &mut Connection,
        reqs: &[FlowMonitorRequest],
        xid: u32,
    ) -> Handled {
        let mut new = Vec::new();
        for r in reqs {
            if conn
                .monitors
                .iter()
                .chain(new.iter())
                .any(|m: &Monitor| m.id == r.id)
            {
                return Err(ErrorCode::OfpmofcMonitorExists);
            }
            new.push(Monitor::from_request(r)?);
        }
        let initial = self.initial_updates(&new);
        conn.monitors.extend(new);
        let reply = updates_reply(conn, initial, true);
        conn.send(
            &ferrovs_openflow::message::Message::MultipartReply(
                ferrovs_openflow::message::MultipartReply {
                    flags: 0,
                    body: reply,
                },
            ),
            xid,
        );
        Ok(())
    }
}
