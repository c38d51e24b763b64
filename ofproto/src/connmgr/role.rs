//! Controller roles (OpenFlow 1.2+ role request and Nicira's NXT_ROLE).
//!
//! Each connection is EQUAL, MASTER (primary) or SLAVE (secondary). A
//! new primary demotes the others to secondary. Role requests that carry
//! a generation id (primary/secondary, OpenFlow 1.2+) are refused as
//! stale when older than the newest seen (compared as OpenFlow says:
//! signed distance). A secondary may not change the switch.

use ferrovs_openflow::message::nicira::NxMessage;
use ferrovs_openflow::message::{Message, Role};
use ferrovs_openflow::ErrorCode;

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

impl Ofproto {
    fn set_role(&mut self, conn: &mut Connection, role: u32) {
        if role == ROLE_MASTER {
            for other in self.conns.values_mut() {
                if other.role == ROLE_MASTER {
                    other.role = ROLE_SLAVE;
                    // OF1.4+ role-status would go here (OVS sends it).
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
