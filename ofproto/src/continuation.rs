//! Continuations: the frozen state of a `controller(pause)` as it travels
//! to a controller in `NXT_PACKET_IN2` (property `NXPINT_CONTINUATION`)
//! and comes back in `NXT_RESUME`.
//!
//! The continuation is a list of nested properties, as OVS's: its
//! `NXCPT_BRIDGE` (the bridge instance's 16-byte id, random per bridge and
//! process, so a continuation from before a restart or from another bridge
//! is stale), then ferrovs's own state property (the frozen actions with
//! their unroll markers, action set, stack, metadata, userdata; actions
//! in OpenFlow 1.5 encoding, whatever the connection's version) and a
//! seal: a keyed SipHash of the bridge id and the state under a key drawn
//! at random once per process. Controllers copy continuations verbatim
//! (`ovs-ofctl monitor ... resume` does), so the seal survives the round
//! trip; a continuation altered, forged, from another bridge or from
//! another process fails with `NXR_STALE`, as OVS answers for one it
//! cannot use, and a malformed one with `OFPBPC_BAD_LEN`. `ovs-ofctl`
//! prints the bridge and skips ferrovs's properties (it decodes
//! continuations loosely).

use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;

use ferrovs_openflow::action::{decode_actions, encode_actions, Action};
use ferrovs_openflow::{ErrorCode, Version};

use crate::xlate::freeze::{FrozenAction, FrozenState, META_WORDS};

/// `NXPIF_NXT_PACKET_IN2`: the packet-in format with continuations.
pub const NXPIF_NXT_PACKET_IN2: u32 = 2;
/// OVS's `NXCPT_BRIDGE`.
pub const NXCPT_BRIDGE: u16 = 0x8000;
/// ferrovs's frozen state and its seal.
pub const NXCPT_FERROVS_STATE: u16 = 0x80f0;
pub const NXCPT_FERROVS_SEAL: u16 = 0x80f1;

/// Why a continuation cannot be resumed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContinuationError {
    #[error("continuation is malformed: {0}")]
    Malformed(&'static str),
    #[error("continuation is stale or was not made by this bridge")]
    Stale,
}

impl ContinuationError {
    /// The OpenFlow error to answer with.
    pub fn code(&self) -> ErrorCode {
        match self {
            ContinuationError::Malformed(_) => ErrorCode::OfpbpcBadLen,
            ContinuationError::Stale => ErrorCode::NxrStale,
        }
    }
}

/// A resume to execute: the packet (as the controller sent it back), the
/// frozen state, and the pipeline fields of `NXPINT_METADATA` (which take
/// precedence over the frozen ones, as in OVS).
#[derive(Debug, Clone)]
pub struct Resume {
    pub packet: Vec<u8>,
    pub state: FrozenState,
}

fn key() -> &'static std::hash::RandomState {
    static KEY: OnceLock<std::hash::RandomState> = OnceLock::new();
    KEY.get_or_init(std::hash::RandomState::new)
}

/// A random id for a bridge instance.
pub fn new_bridge_id() -> [u8; 16] {
    let mut id = [0u8; 16];
    for (i, half) in id.chunks_mut(8).enumerate() {
        let mut h = std::hash::RandomState::new().build_hasher();
        h.write_usize(i);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        half.copy_from_slice(&h.finish().to_be_bytes());
    }
    id
}

fn seal(bridge: &[u8], state: &[u8]) -> u64 {
    let mut h = key().build_hasher();
    h.write(bridge);
    h.write(state);
    h.finish()
}

fn prop(out: &mut Vec<u8>, ty: u16, v: &[u8]) {
    let s = out.len();
    out.extend_from_slice(&ty.to_be_bytes());
    out.extend_from_slice(&((4 + v.len()) as u16).to_be_bytes());
    out.extend_from_slice(v);
    while !(out.len() - s).is_multiple_of(8) {
        out.push(0);
    }
}

fn put_actions(out: &mut Vec<u8>, acts: &[Action]) {
    let mut b = Vec::new();
    encode_actions(Version::Of15, acts, &mut b);
    out.extend_from_slice(&(b.len() as u32).to_be_bytes());
    out.extend_from_slice(&b);
}

/// The state's bytes (ferrovs's private encoding).
pub fn encode_state(st: &FrozenState) -> Vec<u8> {
    let mut v = Vec::new();
    v.push(st.bridge.len().min(255) as u8);
    v.extend_from_slice(&st.bridge.as_bytes()[..st.bridge.len().min(255)]);
    v.push(st.table_id);
    v.extend_from_slice(&st.in_port.to_be_bytes());
    v.push(st.conntracked as u8 | (st.hashed as u8) << 1);
    for w in &st.meta {
        v.extend_from_slice(&w.to_be_bytes());
    }
    v.extend_from_slice(&(st.stack.len() as u16).to_be_bytes());
    for x in &st.stack {
        v.extend_from_slice(&x.to_be_bytes());
    }
    v.extend_from_slice(&(st.actions.len() as u16).to_be_bytes());
    for a in &st.actions {
        match a {
            FrozenAction::Unroll { table_id, cookie } => {
                v.push(0);
                v.push(*table_id);
                v.extend_from_slice(&cookie.to_be_bytes());
            }
            FrozenAction::Act(x) => {
                v.push(1);
                put_actions(&mut v, std::slice::from_ref(x));
            }
            FrozenAction::ClearActions => v.push(2),
            FrozenAction::WriteActions(x) => {
                v.push(3);
                put_actions(&mut v, x);
            }
        }
    }
    put_actions(&mut v, &st.action_set);
    v.extend_from_slice(&(st.userdata.len() as u32).to_be_bytes());
    v.extend_from_slice(&st.userdata);
    v
}

/// A cursor over the state's bytes.
struct Rd<'a>(&'a [u8]);

impl<'a> Rd<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ContinuationError> {
        if self.0.len() < n {
            return Err(ContinuationError::Malformed("state too short"));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, ContinuationError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, ContinuationError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, ContinuationError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, ContinuationError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(a))
    }
    fn actions(&mut self) -> Result<Vec<Action>, ContinuationError> {
        let n = self.u32()? as usize;
        let b = self.take(n)?;
        decode_actions(Version::Of15, b).map_err(|_| ContinuationError::Malformed("actions"))
    }
}

/// The decoder of ferrovs's state property alone, unsealed (what the
/// `continuation` fuzz target drives; [`decode`] checks the seal first).
pub fn decode_state(b: &[u8]) -> Result<FrozenState, ContinuationError> {
    let mut r = Rd(b);
    let n = r.u8()? as usize;
    let bridge = String::from_utf8(r.take(n)?.to_vec())
        .map_err(|_| ContinuationError::Malformed("bridge name"))?;
    let table_id = r.u8()?;
    let in_port = r.u16()?;
    let flags = r.u8()?;
    let (conntracked, hashed) = (flags & 1 != 0, flags & 2 != 0);
    let mut meta = [0u64; META_WORDS];
    for w in &mut meta {
        *w = r.u64()?;
    }
    let n = r.u16()? as usize;
    let mut stack = Vec::with_capacity(n);
    for _ in 0..n {
        let mut a = [0u8; 16];
        a.copy_from_slice(r.take(16)?);
        stack.push(u128::from_be_bytes(a));
    }
    let n = r.u16()? as usize;
    let mut actions = Vec::with_capacity(n);
    for _ in 0..n {
        actions.push(match r.u8()? {
            0 => FrozenAction::Unroll {
                table_id: r.u8()?,
                cookie: r.u64()?,
            },
            1 => {
                let mut a = r.actions()?;
                if a.len() != 1 {
                    return Err(ContinuationError::Malformed("frozen action"));
                }
                FrozenAction::Act(a.remove(0))
            }
            2 => FrozenAction::ClearActions,
            3 => FrozenAction::WriteActions(r.actions()?),
            _ => return Err(ContinuationError::Malformed("frozen action kind")),
        });
    }
    let action_set = r.actions()?;
    let n = r.u32()? as usize;
    let userdata = r.take(n)?.to_vec();
    if !r.0.is_empty() {
        return Err(ContinuationError::Malformed("trailing bytes in state"));
    }
    Ok(FrozenState {
        bridge,
        table_id,
        in_port,
        meta,
        stack,
        actions,
        action_set,
        userdata,
        conntracked,
        hashed,
    })
}

/// The continuation (the nested properties of `NXPINT_CONTINUATION`) of
/// `state`, frozen in the bridge instance `bridge_id`.
pub fn encode(state: &FrozenState, bridge_id: &[u8; 16]) -> Vec<u8> {
    let st = encode_state(state);
    let mut out = Vec::with_capacity(st.len() + 48);
    prop(&mut out, NXCPT_BRIDGE, bridge_id);
    prop(&mut out, NXCPT_FERROVS_STATE, &st);
    prop(
        &mut out,
        NXCPT_FERROVS_SEAL,
        &seal(bridge_id, &st).to_be_bytes(),
    );
    out
}

/// The frozen state of a continuation made by bridge instance
/// `bridge_id` in this process.
pub fn decode(cont: &[u8], bridge_id: &[u8; 16]) -> Result<FrozenState, ContinuationError> {
    let mut bridge = None;
    let mut state = None;
    let mut sealv = None;
    let mut b = cont;
    while !b.is_empty() {
        if b.len() < 4 {
            return Err(ContinuationError::Malformed("property header"));
        }
        let ty = u16::from_be_bytes([b[0], b[1]]);
        let len = u16::from_be_bytes([b[2], b[3]]) as usize;
        if len < 4 || len > b.len() {
            return Err(ContinuationError::Malformed("property length"));
        }
        let v = &b[4..len];
        match ty {
            NXCPT_BRIDGE => bridge = Some(v),
            NXCPT_FERROVS_STATE => state = Some(v),
            NXCPT_FERROVS_SEAL => sealv = Some(v),
            // OVS's own properties (from an OVS continuation): not ours.
            _ => return Err(ContinuationError::Stale),
        }
        let padded = len.div_ceil(8) * 8;
        b = &b[padded.min(b.len())..];
    }
    let (Some(br), Some(st), Some(sl)) = (bridge, state, sealv) else {
        return Err(ContinuationError::Stale);
    };
    if br != bridge_id || sl != seal(br, st).to_be_bytes() {
        return Err(ContinuationError::Stale);
    }
    decode_state(st)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> FrozenState {
        let mut meta = [0u64; META_WORDS];
        meta[1] = 0x1234_5678;
        FrozenState {
            bridge: "br0".into(),
            table_id: 0,
            in_port: 3,
            meta,
            stack: vec![7, u128::MAX],
            actions: vec![
                FrozenAction::Unroll {
                    table_id: 2,
                    cookie: 0xabc,
                },
                FrozenAction::Act(Action::Output {
                    port: 2,
                    max_len: 0,
                }),
                FrozenAction::ClearActions,
                FrozenAction::WriteActions(vec![Action::Group(4)]),
            ],
            action_set: vec![Action::Output {
                port: 9,
                max_len: 0,
            }],
            userdata: vec![1, 2, 3],
            conntracked: false,
            hashed: true,
        }
    }

    #[test]
    fn round_trip() {
        let id = new_bridge_id();
        let c = encode(&state(), &id);
        assert_eq!(c.len() % 8, 0);
        assert_eq!(decode(&c, &id).unwrap(), state());
    }

    #[test]
    fn tampered_forged_or_foreign_is_stale() {
        let id = new_bridge_id();
        let c = encode(&state(), &id);
        // Another bridge instance (a restart, or another bridge).
        assert_eq!(decode(&c, &new_bridge_id()), Err(ContinuationError::Stale));
        // Any byte of the state changed (it starts after the bridge
        // property and its own header).
        let st_len = u16::from_be_bytes([c[26], c[27]]) as usize - 4;
        for i in 28..28 + st_len {
            let mut t = c.clone();
            t[i] ^= 0x40;
            assert!(decode(&t, &id).is_err(), "byte {i}");
        }
        // Seal missing.
        let cut = c.len() - 16;
        assert_eq!(decode(&c[..cut], &id), Err(ContinuationError::Stale));
        // OVS's form (NXCPT_BRIDGE then NXCPT_ACTIONS).
        let mut ovs = Vec::new();
        prop(&mut ovs, NXCPT_BRIDGE, &id);
        prop(&mut ovs, 0x8006, &[0; 4]);
        assert_eq!(decode(&ovs, &id), Err(ContinuationError::Stale));
        // Truncated property.
        assert!(matches!(
            decode(&c[..c.len() - 10], &id),
            Err(ContinuationError::Malformed(_))
        ));
    }
}
