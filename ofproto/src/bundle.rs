//! Bundles: OpenFlow 1.4+ OFPT_BUNDLE_CONTROL / OFPT_BUNDLE_ADD_MESSAGE and
//! the same messages as ONF extension 2300 in OpenFlow 1.3 (what
//! `ovs-ofctl --bundle` sends there), applied all or nothing.
//!
//! An open bundle keeps its messages (flow-mods, group-mods, port-mods)
//! decoded and checked at add time. Commit applies them in order against
//! the live tables, recording every change; the first failure reverts
//! them all (newest first) and answers with that message's error (its
//! xid and bytes), then OFPBFC_MSG_FAILED for the commit, as OVS does.

use ferrovs_openflow::message::nicira::NxMessage;
use ferrovs_openflow::message::{BundleAdd, BundleControl, FlowMod, Message, PortMod};
use ferrovs_openflow::{ErrorCode, Version};

use crate::connmgr::dispatch::Handled;
use crate::connmgr::Connection;
use crate::flow_mod::{Change, FlowModReq, FlowModWire};
use crate::ofproto::Ofproto;

pub const BCT_OPEN_REQUEST: u16 = 0;
pub const BCT_OPEN_REPLY: u16 = 1;
pub const BCT_CLOSE_REQUEST: u16 = 2;
pub const BCT_CLOSE_REPLY: u16 = 3;
pub const BCT_COMMIT_REQUEST: u16 = 4;
pub const BCT_COMMIT_REPLY: u16 = 5;
pub const BCT_DISCARD_REQUEST: u16 = 6;
pub const BCT_DISCARD_REPLY: u16 = 7;
/// OFPBF_ATOMIC | OFPBF_ORDERED.
const BUNDLE_FLAGS: u16 = 3;

/// One message held by a bundle. A flow-mod is kept as decoded (its wire
/// match is a few dozen bytes) with how it arrived, and normalised again
/// at commit: a normalised request holds a 1.4 KB `OfMatch`, which for a
/// bundle of 100,000 adds would be 140 MB held until the commit.
#[derive(Debug, Clone)]
pub enum BundleItem {
    Flow(Box<(FlowMod, FlowModWire)>),
    Port(PortMod),
}

#[derive(Debug, Clone)]
pub struct Bundle {
    pub id: u32,
    pub flags: u16,
    pub closed: bool,
    /// (item, xid, the embedded message's bytes).
    pub items: Vec<(BundleItem, u32, Vec<u8>)>,
}

/// ONF's experimenter id, and the ONF extension types carrying bundles
/// in OpenFlow 1.3 (ONFT_BUNDLE_CONTROL, ONFT_BUNDLE_ADD_MESSAGE).
pub const ONF_EXPERIMENTER: u32 = 0x4f4e_4600;
pub const ONFT_BUNDLE_CONTROL: u32 = 2300;
pub const ONFT_BUNDLE_ADD: u32 = 2301;

fn reply(conn: &mut Connection, bc: &BundleControl, type_: u16, xid: u32) {
    let r = BundleControl {
        bundle_id: bc.bundle_id,
        type_,
        flags: bc.flags,
        props: Vec::new(),
    };
    if conn.ver() < Version::Of14 {
        let mut data = Vec::new();
        r.encode(&mut data);
        let e = ferrovs_openflow::message::Experimenter {
            experimenter: ONF_EXPERIMENTER,
            exp_type: ONFT_BUNDLE_CONTROL,
            data,
        };
        conn.send(&Message::Experimenter(e), xid);
    } else {
        conn.send(&Message::BundleControl(r), xid);
    }
}

impl Ofproto {
    pub(crate) fn handle_bundle_control(
        &mut self,
        conn: &mut Connection,
        bc: &BundleControl,
        _raw: &[u8],
        xid: u32,
    ) -> Handled {
        if bc.flags & !BUNDLE_FLAGS != 0 {
            return Err(ErrorCode::OfpbfcBadFlags);
        }
        match bc.type_ {
            BCT_OPEN_REQUEST => {
                if conn.bundles.contains_key(&bc.bundle_id) {
                    return Err(ErrorCode::OfpbfcBadId);
                }
                conn.bundles.insert(
                    bc.bundle_id,
                    Bundle {
                        id: bc.bundle_id,
                        flags: bc.flags,
                        closed: false,
                        items: Vec::new(),
                    },
                );
                reply(conn, bc, BCT_OPEN_REPLY, xid);
            }
            BCT_CLOSE_REQUEST => {
                let b = conn
                    .bundles
                    .get_mut(&bc.bundle_id)
                    .ok_or(ErrorCode::OfpbfcBadId)?;
                if b.closed {
                    conn.bundles.remove(&bc.bundle_id);
                    return Err(ErrorCode::OfpbfcBundleClosed);
                }
                if b.flags != bc.flags {
                    conn.bundles.remove(&bc.bundle_id);
                    return Err(ErrorCode::OfpbfcBadFlags);
                }
                b.closed = true;
                reply(conn, bc, BCT_CLOSE_REPLY, xid);
            }
            BCT_COMMIT_REQUEST => {
                let b = conn
                    .bundles
                    .remove(&bc.bundle_id)
                    .ok_or(ErrorCode::OfpbfcBadId)?;
                if b.flags != bc.flags {
                    return Err(ErrorCode::OfpbfcBadFlags);
                }
                self.commit_bundle(conn, b)?;
                reply(conn, bc, BCT_COMMIT_REPLY, xid);
            }
            BCT_DISCARD_REQUEST => {
                conn.bundles
                    .remove(&bc.bundle_id)
                    .ok_or(ErrorCode::OfpbfcBadId)?;
                reply(conn, bc, BCT_DISCARD_REPLY, xid);
            }
            _ => {
                conn.bundles.remove(&bc.bundle_id);
                return Err(ErrorCode::OfpbfcBadType);
            }
        }
        Ok(())
    }

    pub(crate) fn handle_bundle_add(
        &mut self,
        conn: &mut Connection,
        ba: BundleAdd,
        _raw: &[u8],
    ) -> Handled {
        crate::connmgr::role::check_writable(conn)?;
        let inner = &ba.message;
        let (h, msg) = Message::decode(inner).map_err(|e| e.code)?;
        if h.version != conn.ver().wire() {
            return Err(ErrorCode::OfpbfcBadVersion);
        }
        let fail = |conn: &mut Connection, e: ErrorCode| {
            conn.bundles.remove(&ba.bundle_id);
            Err(e)
        };
        // A message that fails its checks is not added; the bundle stays
        // open (OVS), the error goes back for the add.
        let item = match msg {
            Message::FlowMod(fm) => self.bundle_flow_mod(conn, fm, inner, false)?,
            Message::Nx(NxMessage::FlowMod(fm)) => self.bundle_flow_mod(conn, fm, inner, true)?,
            Message::PortMod(pm) => BundleItem::Port(pm),
            _ => return Err(ErrorCode::OfpbfcMsgUnsup),
        };
        let inner = ba.message;
        let Some(b) = conn.bundles.get_mut(&ba.bundle_id) else {
            // OVS opens the bundle implicitly on the first add.
            conn.bundles.insert(
                ba.bundle_id,
                Bundle {
                    id: ba.bundle_id,
                    flags: ba.flags,
                    closed: false,
                    items: vec![(item, h.xid, inner)],
                },
            );
            return Ok(());
        };
        if b.closed {
            return fail(conn, ErrorCode::OfpbfcBundleClosed);
        }
        if b.flags != ba.flags {
            return fail(conn, ErrorCode::OfpbfcBadFlags);
        }
        b.items.push((item, h.xid, inner));
        Ok(())
    }

    /// Checks a flow-mod as it is added (the checks only: its match and
    /// instructions are not copied) and keeps it for the commit.
    fn bundle_flow_mod(
        &self,
        conn: &Connection,
        fm: FlowMod,
        raw: &[u8],
        nx: bool,
    ) -> Result<BundleItem, ErrorCode> {
        let wire = Self::flow_mod_wire(conn, &fm, raw, nx);
        let req = FlowModReq::normalize(&fm, wire, &self.tlv)?;
        self.init_flow_mod(&req)?;
        Ok(BundleItem::Flow(Box::new((fm, wire))))
    }

    /// Applies a bundle all or nothing.
    fn commit_bundle(&mut self, conn: &mut Connection, b: Bundle) -> Handled {
        let now = self.now();
        let mut changes: Vec<Change> = Vec::with_capacity(b.items.len());
        let mut port_mods = Vec::new();
        // Each flow-mod gives its match and instructions to its rule.
        for (item, xid, bytes) in b.items {
            let r = match item {
                BundleItem::Flow(f) => {
                    let (fm, wire) = *f;
                    FlowModReq::from_wire_owned(fm, wire, &self.tlv)
                        .and_then(|req| self.apply_flow_mod(req, now, &mut changes))
                }
                BundleItem::Port(pm) => match self.ports.get(&pm.port_no) {
                    None => Err(ErrorCode::OfppmfcBadPort),
                    Some(p) if p.hw_addr != pm.hw_addr => Err(ErrorCode::OfppmfcBadHwAddr),
                    Some(_) => {
                        port_mods.push(pm);
                        Ok(())
                    }
                },
            };
            if let Err(e) = r {
                self.revert_changes(changes);
                // The failing message's own error, then the commit's.
                let v = conn.ver();
                let err = ferrovs_openflow::message::ErrorMsg {
                    error: e.to_wire_or_fallback(v),
                    data: bytes[..bytes.len().min(0xffff - 12)].to_vec(),
                };
                conn.send(&Message::Error(err), xid);
                return Err(ErrorCode::OfpbfcMsgFailed);
            }
        }
        self.commit_changes(changes, Some(&mut *conn), 0);
        for pm in port_mods {
            self.handle_port_mod(conn, &pm)?;
        }
        Ok(())
    }
}
