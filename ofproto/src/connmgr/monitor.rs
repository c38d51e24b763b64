//! Flow monitors (NXST_FLOW_MONITOR): a connection asks to hear about
//! rules that match a filter being added, modified or deleted.
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
    pub flags: u16,
    pub out_port: PortNo,
    pub table_id: u8,
    pub om: OfMatch,
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
            && rule.om.is_covered_by(&self.om)
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

    /// Sends the recorded updates as one NXST_FLOW_MONITOR reply.
    pub fn flush_updates(&mut self) {
        if self.pending_updates.is_empty() {
            return;
        }
        let body = MpReply::NxFlowMonitor(std::mem::take(&mut self.pending_updates));
        self.send_async(&Message::MultipartReply(MultipartReply { flags: 0, body }));
    }
}

impl crate::ofproto::Ofproto {
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
        let mut initial = Vec::new();
        for m in &new {
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
        conn.monitors.extend(new);
        crate::stats::send_split(
            conn,
            xid,
            initial,
            ferrovs_openflow::message::multipart::MpReply::NxFlowMonitor,
        );
        Ok(())
    }
}
