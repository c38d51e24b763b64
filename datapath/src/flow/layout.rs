//! Where each field lives in a flow key: 47 64-bit words, in parse order.
//!
//! Metadata comes first, then L2, L3, L4, so that extraction, which walks
//! the packet front to back, always appends words in increasing index
//! order. Each field is a bit range of one word ([`Field`]); 128-bit
//! fields (IPv6 addresses, ct_label) take two words, high half first.
//! Only this file knows the positions: everything else goes through
//! [`Field`] so that the layout can change in one place.
//!
//! The MPLS label stack entries below the top one and the NSH words sit
//! between `dl_type` and L3: an MPLS or NSH frame has no L3 words (as in
//! OVS, extraction stops at those headers), so they cost nothing to the
//! commoner frames, whose keys only hold the words they use.

pub const FLOW_WORDS: usize = W_TP + 1;
// A key's present-word map is one u64.
const _: () = assert!(FLOW_WORDS <= 64);

pub const W_MD0: usize = 0; // in_port | recirc_id
pub const W_MD1: usize = 1; // dp_hash | skb_priority
pub const W_MD2: usize = 2; // pkt_mark | ct_zone | ct_state
pub const W_CT_MARK: usize = 3; // ct_mark | ct_nw_proto
pub const W_CT_LABEL: usize = 4; // 2 words
pub const W_CT_NW: usize = 6; // ct_nw_dst | ct_nw_src
pub const W_CT_IPV6_SRC: usize = 7; // 2 words
pub const W_CT_IPV6_DST: usize = 9; // 2 words
pub const W_CT_TP: usize = 11; // ct_tp_dst | ct_tp_src
pub const W_TUN_ID: usize = 12;
pub const W_TUN_V4: usize = 13; // tun_dst | tun_src
pub const W_TUN_V6_SRC: usize = 14; // 2 words
pub const W_TUN_V6_DST: usize = 16; // 2 words
pub const W_TUN_MISC: usize = 18; // tos | ttl | flags | tp_src | tp_dst
/// Geneve options as received (OVS's "UDPIF" form, before the TLV map
/// gives them meaning): the length word, then the option bytes, byte 0 the
/// most significant of the first word. Only a Geneve packet with options
/// has these words, so other keys do not pay for them.
pub const W_TUN_GNV: usize = 19; // options length in bytes (low 8)
pub const W_TUN_GNV_OPTS: usize = 20; // TUN_GNV_OPT_WORDS words
/// Words of Geneve options a flow key holds: packets with longer options
/// are refused by `tnl_pop` (dropped and counted as unsupported).
pub const TUN_GNV_OPT_WORDS: usize = 8;
/// Bytes of Geneve options a flow key holds.
pub const TUN_GNV_OPT_BYTES: usize = TUN_GNV_OPT_WORDS * 8;
/// First word after the metadata (the Ethernet destination).
const L2: usize = W_TUN_GNV_OPTS + TUN_GNV_OPT_WORDS;
pub const W_DL_DST: usize = L2;
pub const W_DL_SRC: usize = L2 + 1;
pub const W_VLAN: usize = L2 + 2; // tci0 | tpid0 | tci1 | tpid1
pub const W_DL_TYPE: usize = L2 + 3; // dl_type | packet type ns | mpls_lse (top entry)
pub const W_MPLS: usize = L2 + 4; // mpls_lse1 | mpls_lse2
pub const W_NSH: usize = L2 + 5; // flags | ttl | mdtype | np | si | spi
pub const W_NSH_C: usize = L2 + 6; // 2 words: c1 | c2, c3 | c4
pub const W_NW: usize = L2 + 8; // nw_dst | nw_src (IPv4, ARP tpa/spa)
pub const W_IPV6_SRC: usize = L2 + 9; // 2 words
pub const W_IPV6_DST: usize = L2 + 11; // 2 words
pub const W_NW_MISC: usize = L2 + 13; // ipv6_label | nw_frag | nw_tos | nw_ttl | nw_proto
pub const W_ARP_SHA: usize = L2 + 14; // arp_sha / nd_sll
pub const W_ARP_THA: usize = L2 + 15; // arp_tha / nd_tll
pub const W_ND_TARGET: usize = L2 + 16; // 2 words
pub const W_TP: usize = L2 + 18; // tp_src | tp_dst | tcp_flags

/// A field: `bits` bits at bit `shift` of word `word`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub word: u8,
    pub shift: u8,
    pub bits: u8,
}

impl Field {
    const fn new(word: usize, shift: u8, bits: u8) -> Field {
        Field {
            word: word as u8,
            shift,
            bits,
        }
    }
    /// The all-ones mask of the field, in place in its word.
    #[inline]
    pub const fn word_mask(self) -> u64 {
        let m = if self.bits == 64 {
            !0
        } else {
            (1u64 << self.bits) - 1
        };
        m << self.shift
    }
    #[inline]
    pub const fn place(self, v: u64) -> u64 {
        (v << self.shift) & self.word_mask()
    }
}

pub const IN_PORT: Field = Field::new(W_MD0, 0, 32);
pub const RECIRC_ID: Field = Field::new(W_MD0, 32, 32);
pub const DP_HASH: Field = Field::new(W_MD1, 0, 32);
pub const SKB_PRIORITY: Field = Field::new(W_MD1, 32, 32);
pub const PKT_MARK: Field = Field::new(W_MD2, 0, 32);
pub const CT_ZONE: Field = Field::new(W_MD2, 32, 16);
pub const CT_STATE: Field = Field::new(W_MD2, 48, 16);
pub const CT_MARK: Field = Field::new(W_CT_MARK, 0, 32);
pub const CT_NW_PROTO: Field = Field::new(W_CT_MARK, 32, 8);
pub const CT_LABEL_HI: Field = Field::new(W_CT_LABEL, 0, 64);
pub const CT_LABEL_LO: Field = Field::new(W_CT_LABEL + 1, 0, 64);
pub const CT_NW_DST: Field = Field::new(W_CT_NW, 0, 32);
pub const CT_NW_SRC: Field = Field::new(W_CT_NW, 32, 32);
pub const CT_IPV6_SRC_HI: Field = Field::new(W_CT_IPV6_SRC, 0, 64);
pub const CT_IPV6_SRC_LO: Field = Field::new(W_CT_IPV6_SRC + 1, 0, 64);
pub const CT_IPV6_DST_HI: Field = Field::new(W_CT_IPV6_DST, 0, 64);
pub const CT_IPV6_DST_LO: Field = Field::new(W_CT_IPV6_DST + 1, 0, 64);
pub const CT_TP_DST: Field = Field::new(W_CT_TP, 0, 16);
pub const CT_TP_SRC: Field = Field::new(W_CT_TP, 16, 16);
pub const TUN_ID: Field = Field::new(W_TUN_ID, 0, 64);
pub const TUN_DST: Field = Field::new(W_TUN_V4, 0, 32);
pub const TUN_SRC: Field = Field::new(W_TUN_V4, 32, 32);
pub const TUN_IPV6_SRC_HI: Field = Field::new(W_TUN_V6_SRC, 0, 64);
pub const TUN_IPV6_SRC_LO: Field = Field::new(W_TUN_V6_SRC + 1, 0, 64);
pub const TUN_IPV6_DST_HI: Field = Field::new(W_TUN_V6_DST, 0, 64);
pub const TUN_IPV6_DST_LO: Field = Field::new(W_TUN_V6_DST + 1, 0, 64);
pub const TUN_TOS: Field = Field::new(W_TUN_MISC, 0, 8);
pub const TUN_TTL: Field = Field::new(W_TUN_MISC, 8, 8);
pub const TUN_FLAGS: Field = Field::new(W_TUN_MISC, 16, 16);
pub const TUN_TP_SRC: Field = Field::new(W_TUN_MISC, 32, 16);
pub const TUN_TP_DST: Field = Field::new(W_TUN_MISC, 48, 16);
/// Length in bytes of the Geneve options in `W_TUN_GNV_OPTS..`.
pub const TUN_GNV_LEN: Field = Field::new(W_TUN_GNV, 0, 8);
pub const DL_DST: Field = Field::new(W_DL_DST, 0, 48);
pub const DL_SRC: Field = Field::new(W_DL_SRC, 0, 48);
/// Outer VLAN TCI; bit 12 (CFI/DEI position) is set when a tag is present,
/// as in OVS.
pub const VLAN0_TCI: Field = Field::new(W_VLAN, 0, 16);
pub const VLAN0_TPID: Field = Field::new(W_VLAN, 16, 16);
pub const VLAN1_TCI: Field = Field::new(W_VLAN, 32, 16);
pub const VLAN1_TPID: Field = Field::new(W_VLAN, 48, 16);
pub const DL_TYPE: Field = Field::new(W_DL_TYPE, 0, 16);
/// Packet type namespace: 0 for an Ethernet frame, 1 for an L3 packet
/// (no Ethernet header; its type is `DL_TYPE`). It lives in what was
/// padding of the `dl_type` word, so the key did not grow, and an Ethernet
/// key's words are as they were.
pub const PACKET_TYPE_NS: Field = Field::new(W_DL_TYPE, 16, 16);
/// Top MPLS label stack entry.
pub const MPLS_LSE: Field = Field::new(W_DL_TYPE, 32, 32);
/// The second and third entries, when the stack has them (as OVS, at most
/// three entries are kept, the last one the bottom of stack or the third).
pub const MPLS_LSE1: Field = Field::new(W_MPLS, 0, 32);
pub const MPLS_LSE2: Field = Field::new(W_MPLS, 32, 32);
/// NSH base and service path header (MD type 1 context in `NSH_C1..4`,
/// zero for other MD types, as in OVS).
pub const NSH_FLAGS: Field = Field::new(W_NSH, 0, 8);
pub const NSH_TTL: Field = Field::new(W_NSH, 8, 8);
pub const NSH_MDTYPE: Field = Field::new(W_NSH, 16, 8);
pub const NSH_NP: Field = Field::new(W_NSH, 24, 8);
pub const NSH_SI: Field = Field::new(W_NSH, 32, 8);
pub const NSH_SPI: Field = Field::new(W_NSH, 40, 24);
pub const NSH_C1: Field = Field::new(W_NSH_C, 0, 32);
pub const NSH_C2: Field = Field::new(W_NSH_C, 32, 32);
pub const NSH_C3: Field = Field::new(W_NSH_C + 1, 0, 32);
pub const NSH_C4: Field = Field::new(W_NSH_C + 1, 32, 32);
pub const NW_DST: Field = Field::new(W_NW, 0, 32);
pub const NW_SRC: Field = Field::new(W_NW, 32, 32);
pub const IPV6_SRC_HI: Field = Field::new(W_IPV6_SRC, 0, 64);
pub const IPV6_SRC_LO: Field = Field::new(W_IPV6_SRC + 1, 0, 64);
pub const IPV6_DST_HI: Field = Field::new(W_IPV6_DST, 0, 64);
pub const IPV6_DST_LO: Field = Field::new(W_IPV6_DST + 1, 0, 64);
pub const IPV6_LABEL: Field = Field::new(W_NW_MISC, 0, 20);
pub const NW_FRAG: Field = Field::new(W_NW_MISC, 32, 8);
pub const NW_TOS: Field = Field::new(W_NW_MISC, 40, 8);
pub const NW_TTL: Field = Field::new(W_NW_MISC, 48, 8);
pub const NW_PROTO: Field = Field::new(W_NW_MISC, 56, 8);
pub const ARP_SHA: Field = Field::new(W_ARP_SHA, 0, 48);
pub const ARP_THA: Field = Field::new(W_ARP_THA, 0, 48);
pub const ND_TARGET_HI: Field = Field::new(W_ND_TARGET, 0, 64);
pub const ND_TARGET_LO: Field = Field::new(W_ND_TARGET + 1, 0, 64);
pub const TP_SRC: Field = Field::new(W_TP, 0, 16);
pub const TP_DST: Field = Field::new(W_TP, 16, 16);
pub const TCP_FLAGS: Field = Field::new(W_TP, 32, 16);

/// VLAN TCI bit that marks a tag as present in a flow key.
pub const VLAN_PRESENT: u16 = 0x1000;
