//! The dispatch of one whole message received on a connection.
//!
//! Version negotiation first (nothing else is accepted before it), then
//! one arm per message kind; each handler replies on the connection or
//! sends the OFPT_ERROR that OVS sends, with the offending bytes, and the
//! connection goes on.

use ferrovs_openflow::message::nicira::NxMessage;
use ferrovs_openflow::message::{FeaturesReply, Hello, Message};
use ferrovs_openflow::{ErrorCode, Version};

use super::{role, Connection, FlowFormat};
use crate::ofproto::Ofproto;

/// Negotiates the version from the peer's hello (OpenFlow 1.3.1 section
/// 6.3.1: the highest version both bitmaps share, else the lower of the
/// two headers' versions if we offer it).
fn negotiate(offered: &[Version], header_version: u8, hello: &Hello) -> Option<Version> {
    if let Some(bitmap) = &hello.bitmap {
        return offered
            .iter()
            .copied()
            .filter(|v| {
                let b = v.wire() as usize;
                bitmap.get(b / 32).is_some_and(|w| w & (1 << (b % 32)) != 0)
            })
            .max();
    }
    let ours = offered.iter().copied().max()?;
    let v = Version::from_wire(header_version.min(ours.wire()))?;
    offered.contains(&v).then_some(v)
}

/// OFPC_* capabilities OVS reports (flow, table, port, queue stats; 1.0
/// adds ARP_MATCH_IP, 1.1+ group stats, 1.4+ bundles).
fn capabilities(v: Version) -> u32 {
    let mut c = 1 | 2 | 4 | 0x40;
    if v == Version::Of10 {
        c |= 0x80;
    } else {
        c |= 8;
    }
    if v >= Version::Of14 {
        c |= 0x200; // OFPC_BUNDLES (OVS's own bit 9)
    }
    c
}

/// OF1.0 OFPAT_* actions bitmap: output .. mod_tp_dst and enqueue.
const OF10_ACTIONS: u32 = 0xfff;

/// Processes one whole message `raw` received on `conn`.
pub fn handle(ofproto: &mut Ofproto, conn: &mut Connection, raw: &[u8]) {
    let (header, msg) = match ferrovs_openflow::message::Message::decode(raw) {
        Ok(x) => x,
        Err(e) => {
            if conn.version.is_none() {
                conn.closing = true;
            }
            conn.send_error(e.code, raw);
            return;
        }
    };
    let xid = header.xid;
    if conn.version.is_none() {
        let Message::Hello(h) = &msg else {
            conn.send_hello_failed("expected a hello message first");
            return;
        };
        match negotiate(&conn.offered, header.version, h) {
            Some(v) => conn.version = Some(v),
            None => conn.send_hello_failed("no common OpenFlow version"),
        }
        return;
    }
    if header.version != conn.ver().wire() {
        conn.send_error(ErrorCode::OfpbrcBadVersion, raw);
        return;
    }
    let result = dispatch(ofproto, conn, msg, raw, xid);
    if let Err(code) = result {
        conn.send_error(code, raw);
    }
}

/// A handler's outcome: Err sends that error for the message.
pub(crate) type Handled = Result<(), ErrorCode>;

fn dispatch(
    ofproto: &mut Ofproto,
    conn: &mut Connection,
    msg: Message,
    raw: &[u8],
    xid: u32,
) -> Handled {
    let v = conn.ver();
    match msg {
        Message::Hello(_) => Ok(()),
        Message::EchoRequest(data) => {
            conn.send(&Message::EchoReply(data), xid);
            Ok(())
        }
        Message::EchoReply(_) => Ok(()),
        Message::FeaturesRequest => {
            let reply = FeaturesReply {
                datapath_id: ofproto.config.datapath_id,
                n_buffers: 0,
                n_tables: ofproto.config.n_tables,
                auxiliary_id: 0,
                capabilities: capabilities(v),
                actions: if v == Version::Of10 { OF10_ACTIONS } else { 0 },
                ports: if v <= Version::Of12 {
                    ofproto
                        .ports
                        .values()
                        .map(|p| crate::port::port_for(v, p))
                        .collect()
                } else {
                    Vec::new()
                },
            };
            conn.send(&Message::FeaturesReply(reply), xid);
            Ok(())
        }
        Message::GetConfigRequest => {
            let c = conn.config;
            conn.send(&Message::GetConfigReply(c), xid);
            Ok(())
        }
        Message::SetConfig(c) => {
            conn.config = c;
            Ok(())
        }
        Message::BarrierRequest => {
            conn.send(&Message::BarrierReply, xid);
            Ok(())
        }
        Message::FlowMod(fm) => {
            role::check_writable(conn)?;
            ofproto.handle_flow_mod(conn, fm, raw, xid, false)
        }
        Message::MultipartRequest(req) => ofproto.handle_multipart(conn, req, xid),
        Message::PortMod(pm) => {
            role::check_writable(conn)?;
            ofproto.handle_port_mod(conn, &pm)
        }
        Message::TableMod(tm) => {
            role::check_writable(conn)?;
            ofproto.handle_table_mod(&tm, v)
        }
        Message::GroupMod(gm) => {
            role::check_writable(conn)?;
            ofproto.handle_group_mod(conn, &gm, xid)
        }
        Message::MeterMod(mm) => {
            role::check_writable(conn)?;
            ofproto.handle_meter_mod(conn, &mm)
        }
        Message::RoleRequest(r) => ofproto.handle_role_request(conn, &r, xid),
        Message::GetAsyncRequest => {
            let reply = conn.async_masks().to_wire(v);
            conn.send(&Message::GetAsyncReply(reply), xid);
            Ok(())
        }
        Message::SetAsync(cfg) => conn.set_async(&cfg),
        Message::BundleControl(bc) => ofproto.handle_bundle_control(conn, &bc, raw, xid),
        Message::BundleAdd(ba) => ofproto.handle_bundle_add(conn, ba, raw),
        Message::PacketOut(po) => {
            role::check_writable(conn)?;
            // No packet is ever buffered (packet-ins carry OFP_NO_BUFFER),
            // so any other buffer id is unknown, as OVS answers.
            if po.buffer_id != u32::MAX {
                return Err(ErrorCode::OfpbrcBufferUnknown);
            }
            // Executed by translation (next issue); kept for it.
            ofproto.packet_outs.push(po);
            Ok(())
        }
        Message::Nx(nx) => dispatch_nx(ofproto, conn, nx, raw, xid),
        Message::Experimenter(e) if e.experimenter == crate::bundle::ONF_EXPERIMENTER => {
            use ferrovs_openflow::message::{BundleAdd, BundleControl};
            match e.exp_type {
                crate::bundle::ONFT_BUNDLE_CONTROL => {
                    let bc = BundleControl::decode(&e.data).map_err(|e| e.code)?;
                    ofproto.handle_bundle_control(conn, &bc, raw, xid)
                }
                crate::bundle::ONFT_BUNDLE_ADD => {
                    let ba = BundleAdd::decode(&e.data).map_err(|e| e.code)?;
                    ofproto.handle_bundle_add(conn, ba, raw)
                }
                crate::connmgr::monitor::ONF_FLOW_MONITOR if e.data.len() == 4 => conn
                    .cancel_monitor(u32::from_be_bytes([
                        e.data[0], e.data[1], e.data[2], e.data[3],
                    ])),
                _ => Err(ErrorCode::OfpbrcBadType),
            }
        }
        Message::Error(_) | Message::FeaturesReply(_) | Message::GetConfigReply(_) => {
            Err(ErrorCode::OfpbrcBadType)
        }
        _ => Err(ErrorCode::OfpbrcBadType),
    }
}

fn dispatch_nx(
    ofproto: &mut Ofproto,
    conn: &mut Connection,
    nx: NxMessage,
    raw: &[u8],
    xid: u32,
) -> Handled {
    match nx {
        NxMessage::SetFlowFormat(f) => {
            conn.flow_format = match f {
                0 => FlowFormat::OpenFlow10,
                2 => FlowFormat::Nxm,
                _ => return Err(ErrorCode::OfpbrcEperm),
            };
            Ok(())
        }
        NxMessage::FlowModTableId(on) => {
            conn.flow_mod_table_id = on;
            Ok(())
        }
        NxMessage::Resume(p) => {
            role::check_writable(conn)?;
            if p.packet.is_empty() {
                return Err(ErrorCode::OfpbrcBadLen);
            }
            let cont = p.continuation.as_deref().unwrap_or_default();
            let mut state =
                crate::continuation::decode(cont, &ofproto.instance_id).map_err(|e| e.code())?;
            if state.bridge != ofproto.config().name {
                return Err(ErrorCode::NxrStale);
            }
            // The pipeline fields the controller sent back win (OVS).
            if let Some(m) = &p.metadata {
                let om = crate::flow::OfMatch::from_match(m).map_err(|e| e.code())?;
                let mut f = crate::flow::OfFlow::default();
                state.restore_metadata(&mut f);
                for (w, (v, k)) in f.0.iter_mut().zip(om.value.0.iter().zip(om.mask.0.iter())) {
                    *w = (*w & !k) | (v & k);
                }
                state
                    .meta
                    .copy_from_slice(&f.0[ferrovs_datapath::flow::layout::FLOW_WORDS..]);
                if om.mask.0[0] & ferrovs_datapath::flow::layout::IN_PORT.word_mask() != 0 {
                    state.in_port = crate::xlate::in_port(&f);
                }
            }
            ofproto.resumes.push(crate::continuation::Resume {
                packet: p.packet,
                state,
            });
            Ok(())
        }
        NxMessage::SetPacketInFormat(f) => {
            if f > 2 {
                return Err(ErrorCode::OfpbrcEperm);
            }
            conn.packet_in_format = f;
            Ok(())
        }
        NxMessage::FlowMod(fm) => {
            role::check_writable(conn)?;
            ofproto.handle_flow_mod(conn, fm, raw, xid, true)
        }
        NxMessage::RoleRequest(r) => ofproto.handle_nx_role_request(conn, r, xid),
        NxMessage::SetAsyncConfig {
            packet_in,
            port_status,
            flow_removed,
        } => {
            conn.set_async_masks(packet_in, port_status, flow_removed);
            Ok(())
        }
        NxMessage::SetAsyncConfig2(props) => {
            conn.set_async(&ferrovs_openflow::message::AsyncConfig::Props(props))
        }
        NxMessage::SetControllerId(id) => {
            conn.controller_id = id;
            Ok(())
        }
        NxMessage::FlowMonitorCancel(id) => conn.cancel_monitor(id),
        NxMessage::FlowAge => Ok(()),
        NxMessage::TlvTableMod { command, mappings } => {
            role::check_writable(conn)?;
            ofproto.handle_tlv_table_mod(command, &mappings)
        }
        NxMessage::TlvTableRequest => {
            ofproto.handle_tlv_table_request(conn, xid);
            Ok(())
        }
        _ => Err(ErrorCode::OfpbrcBadSubtype),
    }
}
