//! Actions: one [`Action`] enum for every OpenFlow 1.0/1.3/1.4/1.5 action
//! and every Nicira extension action OVS's controllers use.
//!
//! The enum is version independent; the wire form is chosen per version by
//! [`encode`](codec::encode_actions) (e.g. `PopVlan` is OFPAT10_STRIP_VLAN
//! in 1.0 and OFPAT11_POP_VLAN in 1.1+; `Move` is NXAST_REG_MOVE before 1.5
//! and OFPAT15_COPY_FIELD from 1.5).  Where OVS keeps two spellings apart
//! on the wire (set_tunnel vs set_tunnel64, resubmit vs resubmit_table,
//! load vs set_field) the enum keeps them apart too, so decode followed by
//! encode gives back the same bytes.  Port numbers are 16-bit OpenFlow 1.0
//! numbers (see [`crate::port`]).  Nested action lists (ct, clone,
//! check_pkt_larger is not nested; ct's `exec`) are plain `Vec<Action>`.

mod codec;
pub mod ed_prop;
mod nx;
mod verify;

pub use codec::{check_encodable, decode_actions, encode_actions, reg_load_as_set_field};
pub use verify::{verify_action_list, verify_instructions};

use crate::field::Field;
use crate::port::PortNo;
use crate::value::Value;

/// A bit range of a field: `field[ofs..ofs+n_bits]` (ovs-ofctl `NXM_NX_REG0[0..15]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Subfield {
    pub field: Field,
    pub ofs: u16,
    pub n_bits: u16,
}

impl Subfield {
    /// The whole field (`NXM_NX_REG0[]`).
    pub fn whole(field: Field) -> Subfield {
        Subfield {
            field,
            ofs: 0,
            n_bits: field.info().bits,
        }
    }
    /// True if it covers all of the field's bits (OVS prints it `FIELD[]`).
    pub fn is_whole(&self) -> bool {
        self.ofs == 0 && self.n_bits == self.field.info().bits
    }
}

#[cfg(test)]
mod subfield_tests {
    use super::*;

    #[test]
    fn whole_is_whole_also_for_fields_narrower_than_their_bytes() {
        for f in [Field::MplsLabel, Field::Reg0, Field::VlanTci] {
            assert!(Subfield::whole(f).is_whole(), "{f:?}");
        }
        let part = Subfield {
            field: Field::MplsLabel,
            ofs: 0,
            n_bits: 16,
        };
        assert!(!part.is_whole());
    }
}

/// Every action.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Action {
    // ---- OpenFlow standard actions ----
    /// `output:PORT` (OFPAT_OUTPUT); `max_len` matters for CONTROLLER.
    Output {
        port: PortNo,
        max_len: u16,
    },
    /// OpenFlow 1.0 `enqueue:PORT:QUEUE`.
    Enqueue {
        port: PortNo,
        queue: u32,
    },
    /// OpenFlow 1.0/1.1 `mod_vlan_vid`.
    SetVlanVid(u16),
    /// OpenFlow 1.0/1.1 `mod_vlan_pcp`.
    SetVlanPcp(u8),
    /// `strip_vlan` (1.0) / `pop_vlan` (1.1+).
    PopVlan,
    /// `push_vlan:ETHERTYPE` (1.1+).
    PushVlan(u16),
    /// `mod_dl_src`.
    SetDlSrc([u8; 6]),
    /// `mod_dl_dst`.
    SetDlDst([u8; 6]),
    /// `mod_nw_src` (IPv4, network order as u32).
    SetNwSrc(u32),
    /// `mod_nw_dst`.
    SetNwDst(u32),
    /// `mod_nw_tos` (the DSCP bits of the TOS byte).
    SetNwTos(u8),
    /// `mod_nw_ecn` (1.1 only; NX: none).
    SetNwEcn(u8),
    /// `mod_nw_ttl` (1.1+ OFPAT_SET_NW_TTL).
    SetNwTtl(u8),
    /// `mod_tp_src`.
    SetTpSrc(u16),
    /// `mod_tp_dst`.
    SetTpDst(u16),
    /// `copy_ttl_out` / `copy_ttl_in` (1.1+).
    CopyTtlOut,
    CopyTtlIn,
    /// `set_mpls_label` (NX in 1.0, OFPAT11 in 1.1 only; 1.2+ use set_field).
    SetMplsLabel(u32),
    /// `set_mpls_tc`.
    SetMplsTc(u8),
    /// `set_mpls_ttl`.
    SetMplsTtl(u8),
    /// `dec_mpls_ttl`.
    DecMplsTtl,
    /// `push_mpls:ETHERTYPE`.
    PushMpls(u16),
    /// `pop_mpls:ETHERTYPE`.
    PopMpls(u16),
    /// `set_queue:N`.
    SetQueue(u32),
    /// `pop_queue` (NX).
    PopQueue,
    /// `group:N`.
    Group(u32),
    /// `dec_ttl` without controller ids (OFPAT11_DEC_NW_TTL / NXAST_DEC_TTL).
    DecTtl,
    /// `dec_ttl(id,...)` (NXAST_DEC_TTL_CNT_IDS).
    DecTtlCntIds(Vec<u16>),
    /// `set_field:VALUE/MASK->FIELD` (OFPAT12_SET_FIELD; NXAST_REG_LOAD2 in 1.0).
    SetField {
        field: Field,
        value: Value,
        mask: Option<Value>,
    },
    /// `load:VALUE->DST` (NXAST_REG_LOAD, up to 64 bits).
    RegLoad {
        dst: Subfield,
        value: u64,
    },
    /// `move:SRC->DST` (NXAST_REG_MOVE, OFPAT15_COPY_FIELD).
    Move {
        src: Subfield,
        dst: Subfield,
    },
    /// `meter:N` as an action (OpenFlow 1.5).
    Meter(u32),
    /// `push_pbb` / `pop_pbb` (1.3+, decoded for completeness).
    PushPbb(u16),
    PopPbb,

    // ---- Nicira extensions ----
    /// `resubmit(PORT,TABLE[,ct])`.  `table` 0xff = current table; `in_port`
    /// OFPP_IN_PORT = the packet's.  `ct` selects the CT tuple variant.
    Resubmit {
        in_port: PortNo,
        table: u8,
        ct: bool,
    },
    /// `set_tunnel:ID` (32-bit NXAST_SET_TUNNEL).
    SetTunnel(u32),
    /// `set_tunnel64:ID`.
    SetTunnel64(u64),
    /// `note:HEX...`.
    Note(Vec<u8>),
    /// `multipath(...)`.
    Multipath(Multipath),
    /// `bundle(...)` and `bundle_load(...)` (with `dst`).
    Bundle(Bundle),
    /// `output:SRC[...]` (NXAST_OUTPUT_REG/REG2).
    OutputReg {
        src: Subfield,
        max_len: u16,
    },
    /// `output(port=P,max_len=N)` (NXAST_OUTPUT_TRUNC).
    OutputTrunc {
        port: PortNo,
        max_len: u32,
    },
    /// `learn(...)`.
    Learn(Learn),
    /// `exit`.
    Exit,
    /// `fin_timeout(idle_timeout=I,hard_timeout=H)`.
    FinTimeout {
        idle: u16,
        hard: u16,
    },
    /// `controller(...)` (NXAST_CONTROLLER or CONTROLLER2).
    Controller(Controller),
    /// `write_metadata:V/M` as an NX action (OpenFlow 1.0).
    WriteMetadata {
        metadata: u64,
        mask: u64,
    },
    /// `push:SRC`.
    StackPush(Subfield),
    /// `pop:DST`.
    StackPop(Subfield),
    /// `sample(...)`.
    Sample(Sample),
    /// `conjunction(ID,CLAUSE/N_CLAUSES)`; `clause` is 0-based as on the wire
    /// (ovs-ofctl prints and parses `clause + 1`).
    Conjunction {
        id: u32,
        clause: u8,
        n_clauses: u8,
    },
    /// `ct(...)`.
    Ct(Ct),
    /// `nat(...)`, only meaningful inside `ct(exec(...))` or as ct's nat.
    Nat(Nat),
    /// `ct_clear`.
    CtClear,
    /// `clone(ACTIONS)`.
    Clone(Vec<Action>),
    /// `check_pkt_larger(LEN)->DST` (bit set when packet is larger).
    CheckPktLarger {
        pkt_len: u16,
        dst: Subfield,
    },
    /// `encap(...)` (NSH/Ethernet/MPLS); properties kept raw (checked at
    /// decode; read them with [`ed_prop::EdProp::decode_list`]).
    Encap {
        packet_type: u32,
        props: Vec<u8>,
    },
    /// `decap(...)`.
    Decap {
        packet_type: u32,
    },
    /// `dec_nsh_ttl`.
    DecNshTtl,
    /// `delete_field:FIELD`.
    DeleteField(Field),
    /// `debug_recirc` / `debug_slow`.
    DebugRecirc,
    DebugSlow,
    /// An experimenter action we do not know; kept byte-for-byte (the body
    /// after the 8-byte `type,len,experimenter` header).
    Experimenter {
        experimenter: u32,
        body: Vec<u8>,
    },
}

/// `multipath(fields, basis, algorithm, max_link, arg, dst)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Multipath {
    /// NX_HASH_FIELDS_* (0 eth_src, 1 symmetric_l4, 2 symmetric_l3l4, ...).
    pub fields: u16,
    pub basis: u16,
    /// NX_MP_ALG_* (0 modulo_n, 1 hash_threshold, 2 hrw, 3 iter_hash).
    pub algorithm: u16,
    pub max_link: u16,
    pub arg: u32,
    pub dst: Subfield,
}

/// `bundle(fields, basis, algorithm, members...)`; `bundle_load` has `dst`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Bundle {
    /// NX_BD_ALG_* (0 active_backup, 1 hrw).
    pub algorithm: u16,
    pub fields: u16,
    pub basis: u16,
    pub members: Vec<PortNo>,
    pub dst: Option<Subfield>,
}

/// `controller(reason=,max_len=,id=,userdata=,pause,meter_id=)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Controller {
    pub max_len: u16,
    pub controller_id: u16,
    /// OFPR_* reason code (0 no_match, 1 action, ...).
    pub reason: u8,
    pub userdata: Vec<u8>,
    pub pause: bool,
    /// `None` = NX_CTLR_NO_METER.
    pub meter_id: Option<u32>,
    /// Encode as NXAST_CONTROLLER2 even if the short form would do (keeps
    /// decode/encode byte-exact).
    pub v2: bool,
}

/// `sample(probability=,collector_set_id=,obs_domain_id=,obs_point_id=,
/// sampling_port=,ingress|egress)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sample {
    pub probability: u16,
    pub collector_set_id: u32,
    pub obs_domain_id: u32,
    pub obs_point_id: u32,
    /// OFPP_NONE when unset.
    pub sampling_port: PortNo,
    /// 0 default, 1 ingress, 2 egress.
    pub direction: u8,
    /// Wire variant: 0 NXAST_SAMPLE, 1 SAMPLE2, 2 SAMPLE3.
    pub variant: u8,
}

/// Where `ct` takes its zone from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CtZone {
    Imm(u16),
    Field(Subfield),
}

/// `ct(commit,force,zone=,table=,alg=,exec(...),nat(...))`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ct {
    /// NX_CT_F_COMMIT = 1, NX_CT_F_FORCE = 2.
    pub flags: u16,
    pub zone: CtZone,
    /// 0xff (NX_CT_RECIRC_NONE) when no `table=`.
    pub recirc_table: u8,
    pub alg: u16,
    /// Nested actions: `nat`, and `exec(...)`'s set_field/load actions.
    pub actions: Vec<Action>,
}

impl Ct {
    pub const F_COMMIT: u16 = 1;
    pub const F_FORCE: u16 = 2;
    pub const RECIRC_NONE: u8 = 0xff;
}

/// `nat(src|dst=ADDR[-ADDR][:PORT[-PORT]],persistent,hash|random)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Nat {
    /// NX_NAT_F_SRC 1, DST 2, PERSISTENT 4, PROTO_HASH 8, PROTO_RANDOM 16.
    pub flags: u16,
    pub range: NatRange,
}

impl Nat {
    pub const F_SRC: u16 = 1;
    pub const F_DST: u16 = 2;
    pub const F_PERSISTENT: u16 = 4;
    pub const F_PROTO_HASH: u16 = 8;
    pub const F_PROTO_RANDOM: u16 = 16;
}

/// The address/port range of a `nat`; each part optional as on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct NatRange {
    pub ipv4_min: Option<[u8; 4]>,
    pub ipv4_max: Option<[u8; 4]>,
    pub ipv6_min: Option<[u8; 16]>,
    pub ipv6_max: Option<[u8; 16]>,
    pub proto_min: Option<u16>,
    pub proto_max: Option<u16>,
}

/// `learn(table=,idle_timeout=,...,SPEC,...)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Learn {
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    pub priority: u16,
    pub cookie: u64,
    /// NX_LEARN_F_SEND_FLOW_REM 1, DELETE_LEARNED 2, WRITE_RESULT 4.
    pub flags: u16,
    pub table_id: u8,
    pub fin_idle_timeout: u16,
    pub fin_hard_timeout: u16,
    pub specs: Vec<LearnSpec>,
    /// NXAST_LEARN2 only (`limit=`, `result_dst=`); `None` = NXAST_LEARN.
    pub learn2: Option<Learn2>,
}

/// The NXAST_LEARN2 extras.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Learn2 {
    pub limit: u32,
    /// Set iff flags has WRITE_RESULT.
    pub result_dst: Option<Subfield>,
}

/// One `learn` spec: where `n_bits` come from and what they become.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LearnSpec {
    pub n_bits: u16,
    pub src: LearnSrc,
    pub dst: LearnDst,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LearnSrc {
    Field(Subfield),
    /// Immediate value, `ceil(n_bits/16)*2` bytes, network order.
    Immediate(Vec<u8>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LearnDst {
    /// Match on this subfield in the learned flow.
    Match(Subfield),
    /// `load:` into this subfield in the learned flow's actions.
    Load(Subfield),
    /// `output:` the value as a port.
    Output,
}
