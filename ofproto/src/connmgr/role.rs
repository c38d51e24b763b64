//! Controller roles (OpenFlow 1.2+ role request and Nicira's NXT_ROLE).
//!
//! Each connection is EQUAL, MASTER (primary) or SLAVE (secondary). A
//! new primary demotes the others to secondary. Role requests that carry
//! a generation id (primary/secondary, OpenFlow 1.2+) are refused as
//! stale when older than the newest seen (compared as OpenFlow says:
//! signed distance). A secondary may not change the switch.

use ferrovs_openflow::message::nicira::NxMessage;
use ferrovs_openflow::message::{Message, Role};
use ferrovs_openflow::{ErrorCode, Version};

use super::dispatch::Handled;
use super::Connection;
use crate::ofproto::Ofproto;

pub const ROLE_NOCHANGE: u32 = 0;
pub const ROLE_EQUAL: u32 = 1;
pub const ROLE_MASTER: u32 = 2;
pub const ROLE_SLAVE: u32 = 3;

/// OFPBRC_IS_SLAVE for a secondary connection.
pub fn check_writable(conn: &Connection) -> Handled {
    if conn.role == ROLE_SLAVE {
        Err(ErrorCode::OfpbrcIsSecondary)
    } else {
        Ok(())
    }
}

/// OFPT_ROLE_STATUS (1.4+; ONF extension 1911 in 1.3) telling `conn` it
/// was demoted because another controller became primary (reason
/// OFPCRR_MASTER_REQUEST), as OVS sends it, whatever the async config.
fn send_role_status(conn: &mut Connection, role: u32, generation_id: u64) {
    let v = conn.ver();
    if conn.version.is_none() || v < Version::Of13 {
        return;
    }
    let mut body = Vec::with_capacity(16);
    body.extend_from_slice(&role.to_be_bytes());
    body.extend_from_slice(&[0, 0, 0, 0]);
    body.extend_from_slice(&generation_id.to_be_bytes());
    let msg = if v >= Version::Of14 {
        Message::Other { type_: 30, body }
    } else {
        Message::Experimenter(ferrovs_openflow::message::Experimenter {
            experimenter: crate::bundle::ONF_EXPERIMENTER,
            exp_type: 1911,
            data: body,
        })
    };
    conn.send(&msg, 0);
    (conn.waker)();
}

impl Ofproto {
    fn set_role(&mut self, conn: &mut Connection, role: u32) {
        if role == ROLE_MASTER && conn.role != ROLE_MASTER {
            let generation = self.generation_id.unwrap_or(u64::MAX);
            for other in self.conns.values_mut() {
                if other.role == ROLE_MASTER {
                    other.role = ROLE_SLAVE;
                    send_role_status(other, ROLE_SLAVE, generation);
                }
            }
        }
        conn.role = role;
    }

    pub(crate) fn handle_role_request(
        &mut self,
        conn: &mut Connection,
        r: &Role,
        xid: u32,
    ) -> Handled {
        if r.role > ROLE_SLAVE {
            return Err(ErrorCode::OfprrfcBadRole);
        }
        if r.role != ROLE_NOCHANGE {
            if r.role != ROLE_EQUAL {
                if let Some(g) = self.generation_id {
                    if (r.generation_id.wrapping_sub(g) as i64) < 0 {
                        return Err(ErrorCode::OfprrfcStale);
                    }
                }
                self.generation_id = Some(r.generation_id);
            }
            self.set_role(conn, r.role);
        }
        let reply = Role {
            role: conn.role,
            generation_id: self.generation_id.unwrap_or(u64::MAX),
        };
        conn.send(&Message::RoleReply(reply), xid);
        Ok(())
    }

    /// NX_ROLE_OTHER 0, MASTER 1, SLAVE 2.
    pub(crate) fn handle_nx_role_request(
        &mut self,
        conn: &mut Connection,
        r: u32,
        xid: u32,
    ) -> Handled {
        let role = match r {
            0 => ROLE_EQUAL,
            1 => ROLE_MASTER,
            2 => ROLE_SLAVE,
            _ => return Err(ErrorCode::OfprrfcBadRole),
        };
        self.set_role(conn, role);
        conn.send(&Message::Nx(NxMessage::RoleReply(r)), xid);
        Ok(())
    }
}
