//! Small fixed-layout messages: hello, error, experimenter, switch config,
//! features, ports (description, status, mod), table-mod, role, async
//! config and bundles.
//!
//! Each `Repr` has `decode(version, body)` over the bytes after the 8-byte
//! header and `encode(version, out)` appending the body.  Port numbers are
//! kept in 1.0 numbering ([`crate::port`]); 1.4+ property lists that ferrovs
//! does not interpret are kept as raw bytes so re-encoding is exact.

use crate::error::{DecodeError, ErrorCode, OfpError, Result};
use crate::port::{self, PortNo};
use crate::version::Version;
use crate::wire::{put_u16, put_u32, put_u64, put_zeros, Rd};

pub(crate) fn rd<'a>(b: &'a [u8], what: &'static str) -> Rd<'a> {
    Rd::new(b, ErrorCode::OfpbrcBadLen, what)
}

fn exact(r: &Rd<'_>, n: usize) -> Result<()> {
    if r.len() != n {
        Err(DecodeError::new(ErrorCode::OfpbrcBadLen, r.err.what))
    } else {
        Ok(())
    }
}

/// OFPT_HELLO: optional elements; the version bitmap is the one that matters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Hello {
    /// OFPHET_VERSIONBITMAP words (bit n of word i = version 32*i+n), if sent.
    pub bitmap: Option<Vec<u32>>,
    /// Other elements, raw (type, body).
    pub other: Vec<(u16, Vec<u8>)>,
}

impl Hello {
    /// A hello offering exactly `versions`.
    pub fn offering(versions: &[Version]) -> Hello {
        let mut w = 0u32;
        for v in versions {
            w |= 1 << v.wire();
        }
        Hello {
            bitmap: Some(vec![w]),
            other: Vec::new(),
        }
    }

    /// True if the peer's hello (sent with header version `hv`) allows `v`.
    pub fn allows(&self, hv: u8, v: Version) -> bool {
        match &self.bitmap {
            Some(b) => {
                let i = (v.wire() / 32) as usize;
                b.get(i).is_some_and(|w| w & (1 << (v.wire() % 32)) != 0)
            }
            None => v.wire() <= hv,
        }
    }

    pub fn decode(body: &[u8]) -> Result<Hello> {
        let mut h = Hello::default();
        let mut rest = body;
        while rest.len() >= 4 {
            let r = rd(rest, "hello element");
            let ty = r.u16(0)?;
            let len = r.u16(2)? as usize;
            if len < 4 || len > rest.len() {
                return Err(DecodeError::new(
                    ErrorCode::OfpbrcBadLen,
                    "hello element length",
                ));
            }
            let v = &rest[4..len];
            if ty == 1 {
                h.bitmap = Some(
                    v.chunks_exact(4)
                        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                        .collect(),
                );
            } else {
                h.other.push((ty, v.to_vec()));
            }
            let padded = len.div_ceil(8) * 8;
            rest = rest.get(padded..).unwrap_or(&[]);
        }
        Ok(h)
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        if let Some(b) = &self.bitmap {
            let s = out.len();
            put_u16(out, 1);
            put_u16(out, (4 + 4 * b.len()) as u16);
            for w in b {
                put_u32(out, *w);
            }
            crate::r#match::pad8(out, s);
        }
        for (ty, v) in &self.other {
            let s = out.len();
            put_u16(out, *ty);
            put_u16(out, (4 + v.len()) as u16);
            out.extend_from_slice(v);
            crate::r#match::pad8(out, s);
        }
    }
}

/// OFPT_ERROR.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ErrorMsg {
    /// Wire type/code (and experimenter id for 1.2+ experimenter errors, or
    /// the vendor of a 1.0 Nicira NXET_VENDOR error).
    pub error: OfpError,
    /// Usually the first 64 bytes of the offending message.
    pub data: Vec<u8>,
}

impl ErrorMsg {
    /// The named error, if this version defines one for the wire code.
    pub fn code(&self, version: Version) -> Option<ErrorCode> {
        ErrorCode::from_wire(version, self.error)
    }

    /// The reply to send for `err` about message `request` (first 64 bytes).
    pub fn reply_to(version: Version, err: &DecodeError, request: &[u8]) -> ErrorMsg {
        ErrorMsg {
            error: err.ofp_error(version),
            data: request[..request.len().min(64)].to_vec(),
        }
    }

    pub fn decode(version: Version, body: &[u8]) -> Result<ErrorMsg> {
        let r = rd(body, "ofp_error_msg");
        let ty = r.u16(0)?;
        let code = r.u16(2)?;
        if ty == 0xffff && version >= Version::Of12 {
            return Ok(ErrorMsg {
                error: OfpError {
                    type_: ty,
                    code,
                    experimenter: r.u32(4)?,
                },
                data: r.tail(8)?.to_vec(),
            });
        }
        if ty == 0xb0c2 && version < Version::Of12 {
            // Nicira vendor error in 1.0/1.1: vendor, type, code, then data.
            let exp = r.u32(4)?;
            return Ok(ErrorMsg {
                error: OfpError {
                    type_: r.u16(8)?,
                    code: r.u16(10)?,
                    experimenter: exp,
                },
                data: r.tail(12)?.to_vec(),
            });
        }
        Ok(ErrorMsg {
            error: OfpError {
                type_: ty,
                code,
                experimenter: 0,
            },
            data: r.tail(4)?.to_vec(),
        })
    }

    pub fn encode(&self, version: Version, out: &mut Vec<u8>) {
        let e = self.error;
        if e.experimenter != 0 && version < Version::Of12 {
            put_u16(out, 0xb0c2);
            put_u16(out, 0);
            put_u32(out, e.experimenter);
            put_u16(out, e.type_);
            put_u16(out, e.code);
        } else {
            put_u16(out, e.type_);
            put_u16(out, e.code);
            if e.type_ == 0xffff && version >= Version::Of12 {
                put_u32(out, e.experimenter);
            }
        }
        out.extend_from_slice(&self.data);
    }
}

/// OFPT_EXPERIMENTER / OFPT_VENDOR that is not a Nicira message we know.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Experimenter {
    pub experimenter: u32,
    /// 1.1+: exp_type; in 1.0 the first 4 body bytes (if any) are kept here.
    pub exp_type: u32,
    pub data: Vec<u8>,
}

impl Experimenter {
    pub fn decode(body: &[u8]) -> Result<Experimenter> {
        let r = rd(body, "experimenter");
        Ok(Experimenter {
            experimenter: r.u32(0)?,
            exp_type: r.u32(4)?,
            data: r.tail(8)?.to_vec(),
        })
    }
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_u32(out, self.experimenter);
        put_u32(out, self.exp_type);
        out.extend_from_slice(&self.data);
    }
}

/// OFPT_GET_CONFIG_REPLY / OFPT_SET_CONFIG body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SwitchConfig {
    /// OFPC_FRAG_* (0 normal, 1 drop, 2 reasm, 3 mask) and, in 1.0-1.2,
    /// OFPC_INVALID_TTL_TO_CONTROLLER (4).
    pub flags: u16,
    pub miss_send_len: u16,
}

impl SwitchConfig {
    pub fn decode(body: &[u8]) -> Result<SwitchConfig> {
        let r = rd(body, "ofp_switch_config");
        exact(&r, 4)?;
        Ok(SwitchConfig {
            flags: r.u16(0)?,
            miss_send_len: r.u16(2)?,
        })
    }
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_u16(out, self.flags);
        put_u16(out, self.miss_send_len);
    }
}

/// A port description (`ofp_phy_port` 1.0, `ofp_port` 1.1-1.3, 1.4+ with
/// properties).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Port {
    pub port_no: PortNo,
    pub hw_addr: [u8; 6],
    /// NUL-padded name.
    pub name: [u8; 16],
    pub config: u32,
    pub state: u32,
    pub curr: u32,
    pub advertised: u32,
    pub supported: u32,
    pub peer: u32,
    /// kbps, 1.1+.
    pub curr_speed: u32,
    pub max_speed: u32,
    /// 1.4+: properties other than Ethernet, raw.
    pub other_props: Vec<u8>,
}

impl Port {
    /// The name as a string (up to the first NUL).
    pub fn name_str(&self) -> String {
        let n = self.name.iter().position(|&b| b == 0).unwrap_or(16);
        String::from_utf8_lossy(&self.name[..n]).into_owned()
    }

    /// Sets the name (truncated to 15 bytes).
    pub fn set_name(&mut self, s: &str) {
        self.name = [0; 16];
        let b = s.as_bytes();
        let n = b.len().min(15);
        self.name[..n].copy_from_slice(&b[..n]);
    }

    /// Decodes one port at the start of `b`; returns it and its length.
    pub fn decode(version: Version, b: &[u8]) -> Result<(Port, usize)> {
        let r = rd(b, "ofp_port");
        match version {
            Version::Of10 => {
                r.need(48)?;
                Ok((
                    Port {
                        port_no: r.u16(0)?,
                        hw_addr: r.arr::<6>(2)?,
                        name: r.arr::<16>(8)?,
                        config: r.u32(24)?,
                        state: r.u32(28)?,
                        curr: r.u32(32)?,
                        advertised: r.u32(36)?,
                        supported: r.u32(40)?,
                        peer: r.u32(44)?,
                        ..Port::default()
                    },
                    48,
                ))
            }
            Version::Of11 | Version::Of12 | Version::Of13 => {
                r.need(64)?;
                Ok((
                    Port {
                        port_no: port::from_ofp11(r.u32(0)?)?,
                        hw_addr: r.arr::<6>(8)?,
                        name: r.arr::<16>(16)?,
                        config: r.u32(32)?,
                        state: r.u32(36)?,
                        curr: r.u32(40)?,
                        advertised: r.u32(44)?,
                        supported: r.u32(48)?,
                        peer: r.u32(52)?,
                        curr_speed: r.u32(56)?,
                        max_speed: r.u32(60)?,
                        other_props: Vec::new(),
                    },
                    64,
                ))
            }
            _ => {
                let len = r.u16(4)? as usize;
                if len < 40 || len > b.len() {
                    return Err(DecodeError::new(
                        ErrorCode::OfpbrcBadLen,
                        "ofp14_port length",
                    ));
                }
                let mut p = Port {
                    port_no: port::from_ofp11(r.u32(0)?)?,
                    hw_addr: r.arr::<6>(8)?,
                    name: r.arr::<16>(16)?,
                    config: r.u32(32)?,
                    state: r.u32(36)?,
                    ..Port::default()
                };
                let mut props = r.slice(40, len)?;
                while props.len() >= 4 {
                    let pr = rd(props, "port property");
                    let ty = pr.u16(0)?;
                    let plen = pr.u16(2)? as usize;
                    let padded = plen.div_ceil(8) * 8;
                    if plen < 4 || padded > props.len() {
                        return Err(DecodeError::new(
                            ErrorCode::OfpbrcBadLen,
                            "port property length",
                        ));
                    }
                    if ty == 0 && plen == 32 {
                        p.curr = pr.u32(8)?;
                        p.advertised = pr.u32(12)?;
                        p.supported = pr.u32(16)?;
                        p.peer = pr.u32(20)?;
                        p.curr_speed = pr.u32(24)?;
                        p.max_speed = pr.u32(28)?;
                    } else {
                        p.other_props.extend_from_slice(&props[..padded]);
                    }
                    props = &props[padded..];
                }
                Ok((p, len))
            }
        }
    }

    pub fn encode(&self, version: Version, out: &mut Vec<u8>) {
        match version {
            Version::Of10 => {
                put_u16(out, self.port_no);
                out.extend_from_slice(&self.hw_addr);
                out.extend_from_slice(&self.name);
                for v in [
                    self.config,
                    self.state,
                    self.curr,
                    self.advertised,
                    self.supported,
                    self.peer,
                ] {
                    put_u32(out, v);
                }
            }
            Version::Of11 | Version::Of12 | Version::Of13 => {
                put_u32(out, port::to_ofp11(self.port_no));
                put_zeros(out, 4);
                out.extend_from_slice(&self.hw_addr);
                put_zeros(out, 2);
                out.extend_from_slice(&self.name);
                for v in [
                    self.config,
                    self.state,
                    self.curr,
                    self.advertised,
                    self.supported,
                    self.peer,
                    self.curr_speed,
                    self.max_speed,
                ] {
                    put_u32(out, v);
                }
            }
            _ => {
                let s = out.len();
                put_u32(out, port::to_ofp11(self.port_no));
                put_u16(out, 0);
                put_zeros(out, 2);
                out.extend_from_slice(&self.hw_addr);
                put_zeros(out, 2);
                out.extend_from_slice(&self.name);
                put_u32(out, self.config);
                put_u32(out, self.state);
                put_u16(out, 0);
                put_u16(out, 32);
                put_zeros(out, 4);
                for v in [
                    self.curr,
                    self.advertised,
                    self.supported,
                    self.peer,
                    self.curr_speed,
                    self.max_speed,
                ] {
                    put_u32(out, v);
                }
                out.extend_from_slice(&self.other_props);
                let len = (out.len() - s) as u16;
                out[s + 4..s + 6].copy_from_slice(&len.to_be_bytes());
            }
        }
    }

    /// Decodes a list of ports filling `b`.
    pub fn decode_list(version: Version, mut b: &[u8]) -> Result<Vec<Port>> {
        let mut v = Vec::new();
        while !b.is_empty() {
            let (p, n) = Port::decode(version, b)?;
            v.push(p);
            b = &b[n..];
        }
        Ok(v)
    }
}

/// OFPT_FEATURES_REPLY.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct FeaturesReply {
    pub datapath_id: u64,
    pub n_buffers: u32,
    pub n_tables: u8,
    /// 1.3+.
    pub auxiliary_id: u8,
    pub capabilities: u32,
    /// 1.0: supported actions bitmap; 1.1+: reserved.
    pub actions: u32,
    /// 1.0-1.2 only (later versions use port-desc multipart).
    pub ports: Vec<Port>,
}

impl FeaturesReply {
    pub fn decode(version: Version, body: &[u8]) -> Result<FeaturesReply> {
        let r = rd(body, "ofp_switch_features");
        r.need(24)?;
        let ports = if version <= Version::Of12 {
            Port::decode_list(version, r.tail(24)?)?
        } else {
            exact(&r, 24)?;
            Vec::new()
        };
        Ok(FeaturesReply {
            datapath_id: r.u64(0)?,
            n_buffers: r.u32(8)?,
            n_tables: r.u8(12)?,
            auxiliary_id: if version >= Version::Of13 {
                r.u8(13)?
            } else {
                0
            },
            capabilities: r.u32(16)?,
            actions: r.u32(20)?,
            ports,
        })
    }
    pub fn encode(&self, version: Version, out: &mut Vec<u8>) {
        put_u64(out, self.datapath_id);
        put_u32(out, self.n_buffers);
        out.push(self.n_tables);
        out.push(if version >= Version::Of13 {
            self.auxiliary_id
        } else {
            0
        });
        put_zeros(out, 2);
        put_u32(out, self.capabilities);
        put_u32(out, self.actions);
        if version <= Version::Of12 {
            for p in &self.ports {
                p.encode(version, out);
            }
        }
    }
}

/// OFPT_PORT_STATUS.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PortStatus {
    /// OFPPR_ADD 0, DELETE 1, MODIFY 2.
    pub reason: u8,
    pub port: Port,
}

impl PortStatus {
    pub fn decode(version: Version, body: &[u8]) -> Result<PortStatus> {
        let r = rd(body, "ofp_port_status");
        let (port, n) = Port::decode(version, r.tail(8)?)?;
        if 8 + n != body.len() {
            return Err(DecodeError::new(ErrorCode::OfpbrcBadLen, "ofp_port_status"));
        }
        Ok(PortStatus {
            reason: r.u8(0)?,
            port,
        })
    }
    pub fn encode(&self, version: Version, out: &mut Vec<u8>) {
        out.push(self.reason);
        put_zeros(out, 7);
        self.port.encode(version, out);
    }
}

/// OFPT_PORT_MOD.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct PortMod {
    pub port_no: PortNo,
    pub hw_addr: [u8; 6],
    pub config: u32,
    pub mask: u32,
    pub advertise: u32,
    /// 1.4+: properties other than Ethernet, raw.
    pub other_props: Vec<u8>,
}

impl PortMod {
    pub fn decode(version: Version, body: &[u8]) -> Result<PortMod> {
        let r = rd(body, "ofp_port_mod");
        match version {
            Version::Of10 => {
                exact(&r, 24)?;
                Ok(PortMod {
                    port_no: r.u16(0)?,
                    hw_addr: r.arr::<6>(2)?,
                    config: r.u32(8)?,
                    mask: r.u32(12)?,
                    advertise: r.u32(16)?,
                    other_props: Vec::new(),
                })
            }
            Version::Of11 | Version::Of12 | Version::Of13 => {
                exact(&r, 32)?;
                Ok(PortMod {
                    port_no: port::from_ofp11(r.u32(0)?)?,
                    hw_addr: r.arr::<6>(8)?,
                    config: r.u32(16)?,
                    mask: r.u32(20)?,
                    advertise: r.u32(24)?,
                    other_props: Vec::new(),
                })
            }
            _ => {
                r.need(24)?;
                let mut pm = PortMod {
                    port_no: port::from_ofp11(r.u32(0)?)?,
                    hw_addr: r.arr::<6>(8)?,
                    config: r.u32(16)?,
                    mask: r.u32(20)?,
                    advertise: 0,
                    other_props: Vec::new(),
                };
                let mut props = r.tail(24)?;
                while props.len() >= 4 {
                    let pr = rd(props, "port_mod property");
                    let ty = pr.u16(0)?;
                    let plen = pr.u16(2)? as usize;
                    let padded = plen.div_ceil(8) * 8;
                    if plen < 4 || padded > props.len() {
                        return Err(DecodeError::new(
                            ErrorCode::OfpbrcBadLen,
                            "port_mod property",
                        ));
                    }
                    if ty == 0 && plen == 8 {
                        pm.advertise = pr.u32(4)?;
                    } else {
                        pm.other_props.extend_from_slice(&props[..padded]);
                    }
                    props = &props[padded..];
                }
                Ok(pm)
            }
        }
    }
    pub fn encode(&self, version: Version, out: &mut Vec<u8>) {
        match version {
            Version::Of10 => {
                put_u16(out, self.port_no);
                out.extend_from_slice(&self.hw_addr);
                put_u32(out, self.config);
                put_u32(out, self.mask);
                put_u32(out, self.advertise);
                put_zeros(out, 4);
            }
            Version::Of11 | Version::Of12 | Version::Of13 => {
                put_u32(out, port::to_ofp11(self.port_no));
                put_zeros(out, 4);
                out.extend_from_slice(&self.hw_addr);
                put_zeros(out, 2);
                put_u32(out, self.config);
                put_u32(out, self.mask);
                put_u32(out, self.advertise);
                put_zeros(out, 4);
            }
            _ => {
                put_u32(out, port::to_ofp11(self.port_no));
                put_zeros(out, 4);
                out.extend_from_slice(&self.hw_addr);
                put_zeros(out, 2);
                put_u32(out, self.config);
                put_u32(out, self.mask);
                // As OVS: the Ethernet property only when there is something
                // to advertise (0 means "leave unchanged" either way).
                if self.advertise != 0 {
                    put_u16(out, 0);
                    put_u16(out, 8);
                    put_u32(out, self.advertise);
                }
                out.extend_from_slice(&self.other_props);
            }
        }
    }
}

/// OFPT_TABLE_MOD (1.1+).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TableMod {
    /// 0xff = all tables.
    pub table_id: u8,
    pub config: u32,
    /// 1.4+ properties (eviction, vacancy), raw.
    pub props: Vec<u8>,
}

impl TableMod {
    pub fn decode(version: Version, body: &[u8]) -> Result<TableMod> {
        let r = rd(body, "ofp_table_mod");
        r.need(8)?;
        if version < Version::Of14 {
            exact(&r, 8)?;
        }
        Ok(TableMod {
            table_id: r.u8(0)?,
            config: r.u32(4)?,
            props: r.tail(8)?.to_vec(),
        })
    }
    pub fn encode(&self, version: Version, out: &mut Vec<u8>) {
        out.push(self.table_id);
        put_zeros(out, 3);
        put_u32(out, self.config);
        if version >= Version::Of14 {
            out.extend_from_slice(&self.props);
        }
    }
}

/// OFPT_ROLE_REQUEST / OFPT_ROLE_REPLY (1.2+), and 1.4 OFPT_ROLE_STATUS
/// (then `generation_id` follows `reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Role {
    /// OFPCR_ROLE_NOCHANGE 0, EQUAL 1, MASTER 2, SLAVE 3.
    pub role: u32,
    pub generation_id: u64,
}

impl Role {
    pub fn decode(body: &[u8]) -> Result<Role> {
        let r = rd(body, "ofp_role_request");
        exact(&r, 16)?;
        Ok(Role {
            role: r.u32(0)?,
            generation_id: r.u64(8)?,
        })
    }
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_u32(out, self.role);
        put_zeros(out, 4);
        put_u64(out, self.generation_id);
    }
}

/// OFPT_GET_ASYNC_REPLY / OFPT_SET_ASYNC: which asynchronous messages a
/// controller wants, per role.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AsyncConfig {
    /// 1.3: [master/equal, slave] masks for packet-in, port-status, flow-removed.
    Masks {
        packet_in: [u32; 2],
        port_status: [u32; 2],
        flow_removed: [u32; 2],
    },
    /// 1.4+: `(type, mask)` properties (OFPACPT_*); unknown ones raw.
    Props(Vec<(u16, u32)>),
}

impl AsyncConfig {
    pub fn decode(version: Version, body: &[u8]) -> Result<AsyncConfig> {
        let r = rd(body, "ofp_async_config");
        if version <= Version::Of13 {
            exact(&r, 24)?;
            return Ok(AsyncConfig::Masks {
                packet_in: [r.u32(0)?, r.u32(4)?],
                port_status: [r.u32(8)?, r.u32(12)?],
                flow_removed: [r.u32(16)?, r.u32(20)?],
            });
        }
        let mut v = Vec::new();
        let mut o = 0;
        while o < body.len() {
            let ty = r.u16(o)?;
            let len = r.u16(o + 2)? as usize;
            if len != 8 {
                return Err(DecodeError::new(ErrorCode::OfpbrcBadLen, "async property"));
            }
            v.push((ty, r.u32(o + 4)?));
            o += 8;
        }
        Ok(AsyncConfig::Props(v))
    }
    pub fn encode(&self, version: Version, out: &mut Vec<u8>) {
        match self {
            AsyncConfig::Masks {
                packet_in,
                port_status,
                flow_removed,
            } if version <= Version::Of13 => {
                for w in packet_in.iter().chain(port_status).chain(flow_removed) {
                    put_u32(out, *w);
                }
            }
            AsyncConfig::Masks {
                packet_in,
                port_status,
                flow_removed,
            } => {
                // OFPACPT_PACKET_IN_SLAVE 0, _MASTER 1, PORT_STATUS_SLAVE 2,
                // _MASTER 3, FLOW_REMOVED_SLAVE 4, _MASTER 5.
                for (ty, m) in [
                    (0u16, packet_in[1]),
                    (1, packet_in[0]),
                    (2, port_status[1]),
                    (3, port_status[0]),
                    (4, flow_removed[1]),
                    (5, flow_removed[0]),
                ] {
                    put_u16(out, ty);
                    put_u16(out, 8);
                    put_u32(out, m);
                }
            }
            AsyncConfig::Props(v) => {
                for (ty, m) in v {
                    put_u16(out, *ty);
                    put_u16(out, 8);
                    put_u32(out, *m);
                }
            }
        }
    }
}

/// OFPT_BUNDLE_CONTROL (1.4+).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BundleControl {
    pub bundle_id: u32,
    /// OFPBCT_OPEN_REQUEST 0 .. DISCARD_REPLY 7.
    pub type_: u16,
    /// OFPBF_ATOMIC 1, ORDERED 2.
    pub flags: u16,
    pub props: Vec<u8>,
}

impl BundleControl {
    pub fn decode(body: &[u8]) -> Result<BundleControl> {
        let r = rd(body, "ofp_bundle_ctrl_msg");
        r.need(8)?;
        Ok(BundleControl {
            bundle_id: r.u32(0)?,
            type_: r.u16(4)?,
            flags: r.u16(6)?,
            props: r.tail(8)?.to_vec(),
        })
    }
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_u32(out, self.bundle_id);
        put_u16(out, self.type_);
        put_u16(out, self.flags);
        out.extend_from_slice(&self.props);
    }
}

/// OFPT_BUNDLE_ADD_MESSAGE (1.4+): one message to add to a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BundleAdd {
    pub bundle_id: u32,
    pub flags: u16,
    /// The embedded message, whole (header included); decode it with
    /// [`super::Message::decode`].
    pub message: Vec<u8>,
    /// Whatever follows the message: padding to 8 bytes and properties, raw.
    pub props: Vec<u8>,
}

impl BundleAdd {
    pub fn decode(body: &[u8]) -> Result<BundleAdd> {
        let r = rd(body, "ofp_bundle_add_msg");
        r.need(16)?;
        let inner = r.tail(8)?;
        let h = super::Header::parse(inner)?;
        let n = h.length as usize;
        Ok(BundleAdd {
            bundle_id: r.u32(0)?,
            flags: r.u16(6)?,
            message: inner[..n].to_vec(),
            props: inner[n..].to_vec(),
        })
    }
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_u32(out, self.bundle_id);
        put_u16(out, 0);
        put_u16(out, self.flags);
        out.extend_from_slice(&self.message);
        out.extend_from_slice(&self.props);
    }
}
