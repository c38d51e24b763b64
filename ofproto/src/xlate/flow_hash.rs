//! The flow hashes of `multipath` and `bundle` (`fields=` eth_src,
//! symmetric_l4, symmetric_l3l4, symmetric_l3l4+udp, nw_src, nw_dst,
//! symmetric_l3), bit for bit as OVS computes them, so that a flow picks
//! the same link in ferrovs as in OVS: Jenkins' lookup3 over the bytes OVS
//! lays out for a field set, or the murmur3-style word hash (OVS's
//! `hash_add`/`hash_finish`, the portable build Debian ships), reading
//! network-order fields as little-endian words as OVS does on x86.
//!
//! [`mask_hash_fields`] puts in the megaflow the fields a hash reads.

use ferrovs_datapath::flow::layout::{self as dp, Field as DpField};

use crate::flow::OfFlow;

/// NX_HASH_FIELDS_*.
pub const ETH_SRC: u16 = 0;
pub const SYMMETRIC_L4: u16 = 1;
pub const SYMMETRIC_L3L4: u16 = 2;
pub const SYMMETRIC_L3L4_UDP: u16 = 3;
pub const NW_SRC: u16 = 4;
pub const NW_DST: u16 = 5;
pub const SYMMETRIC_L3: u16 = 6;

fn rot(x: u32, k: u32) -> u32 {
    x.rotate_left(k)
}

fn mix(a: &mut u32, b: &mut u32, c: &mut u32) {
    *a = a.wrapping_sub(*c) ^ rot(*c, 4);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a) ^ rot(*a, 6);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b) ^ rot(*b, 8);
    *b = b.wrapping_add(*a);
    *a = a.wrapping_sub(*c) ^ rot(*c, 16);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a) ^ rot(*a, 19);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b) ^ rot(*b, 4);
    *b = b.wrapping_add(*a);
}

fn finalize(a: &mut u32, b: &mut u32, c: &mut u32) {
    *c ^= *b;
    *c = c.wrapping_sub(rot(*b, 14));
    *a ^= *c;
    *a = a.wrapping_sub(rot(*c, 11));
    *b ^= *a;
    *b = b.wrapping_sub(rot(*a, 25));
    *c ^= *b;
    *c = c.wrapping_sub(rot(*b, 16));
    *a ^= *c;
    *a = a.wrapping_sub(rot(*c, 4));
    *b ^= *a;
    *b = b.wrapping_sub(rot(*a, 14));
    *c ^= *b;
    *c = c.wrapping_sub(rot(*b, 24));
}

fn le32(b: &[u8]) -> u32 {
    let mut w = [0u8; 4];
    w[..b.len().min(4)].copy_from_slice(&b[..b.len().min(4)]);
    u32::from_le_bytes(w)
}

/// OVS's `jhash_bytes`.
pub fn jhash_bytes(p: &[u8], basis: u32) -> u32 {
    let init = 0xdeadbeefu32
        .wrapping_add(p.len() as u32)
        .wrapping_add(basis);
    let (mut a, mut b, mut c) = (init, init, init);
    let mut rest = p;
    while rest.len() >= 12 {
        a = a.wrapping_add(le32(&rest[0..4]));
        b = b.wrapping_add(le32(&rest[4..8]));
        c = c.wrapping_add(le32(&rest[8..12]));
        mix(&mut a, &mut b, &mut c);
        rest = &rest[12..];
    }
    if !rest.is_empty() {
        let mut tmp = [0u8; 12];
        tmp[..rest.len()].copy_from_slice(rest);
        a = a.wrapping_add(le32(&tmp[0..4]));
        b = b.wrapping_add(le32(&tmp[4..8]));
        c = c.wrapping_add(le32(&tmp[8..12]));
        finalize(&mut a, &mut b, &mut c);
    }
    c
}

/// OVS's `hash_add` (murmur3 step).
pub fn hash_add(hash: u32, data: u32) -> u32 {
    let mut h = hash;
    if data != 0 {
        let d = data
            .wrapping_mul(0xcc9e2d51)
            .rotate_left(15)
            .wrapping_mul(0x1b873593);
        h ^= d;
    }
    h.rotate_left(13).wrapping_mul(5).wrapping_add(0xe6546b64)
}

fn hash_add64(hash: u32, data: u64) -> u32 {
    hash_add(hash_add(hash, data as u32), (data >> 32) as u32)
}

/// OVS's `hash_finish`.
pub fn hash_finish(hash: u32, fin: u32) -> u32 {
    let mut h = hash ^ fin;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85ebca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2ae35);
    h ^= h >> 16;
    h
}

/// OVS's `hash_2words`.
pub fn hash_2words(x: u32, y: u32) -> u32 {
    hash_finish(hash_add(hash_add(x, 0), y), 8)
}

fn get(f: &OfFlow, x: DpField) -> u64 {
    f.bits(x.word as usize, x.shift as u32, x.bits as u32)
}

fn mac_bytes(v: u64) -> [u8; 6] {
    let b = v.to_be_bytes();
    [b[2], b[3], b[4], b[5], b[6], b[7]]
}

fn ipv6_bytes(f: &OfFlow, hi: DpField) -> [u8; 16] {
    let w = hi.word as usize;
    ((f.0[w] as u128) << 64 | f.0[w + 1] as u128).to_be_bytes()
}

fn dl_type(f: &OfFlow) -> u16 {
    get(f, dp::DL_TYPE) as u16
}

fn nw_proto(f: &OfFlow) -> u8 {
    get(f, dp::NW_PROTO) as u8
}

fn is_frag(f: &OfFlow) -> bool {
    get(f, dp::NW_FRAG) & 3 != 0
}

/// XOR of the VIDs of both tags (OVS `vlans[i].tci & VLAN_VID_MASK`).
fn vid_xor(f: &OfFlow) -> u16 {
    (get(f, dp::VLAN0_TCI) as u16 ^ get(f, dp::VLAN1_TCI) as u16) & 0x0fff
}

fn eth_xor(f: &OfFlow) -> [u8; 6] {
    let x = get(f, dp::DL_SRC) ^ get(f, dp::DL_DST);
    mac_bytes(x)
}

fn symmetric_l4(f: &OfFlow, basis: u32) -> u32 {
    // union { be32; in6_addr } @0, eth_type @16, vlan_tci @18,
    // tp_port @20, eth_addr @22, ip_proto @28; 32 bytes.
    let mut b = [0u8; 32];
    b[22..28].copy_from_slice(&eth_xor(f));
    b[18..20].copy_from_slice(&vid_xor(f).to_be_bytes());
    let t = dl_type(f);
    b[16..18].copy_from_slice(&t.to_be_bytes());
    let ports = |b: &mut [u8; 32]| {
        if matches!(nw_proto(f), 6 | 132) {
            let p = (get(f, dp::TP_SRC) ^ get(f, dp::TP_DST)) as u16;
            b[20..22].copy_from_slice(&p.to_be_bytes());
        }
    };
    if t == 0x0800 {
        let a = (get(f, dp::NW_SRC) ^ get(f, dp::NW_DST)) as u32;
        b[0..4].copy_from_slice(&a.to_be_bytes());
        b[28] = nw_proto(f);
        ports(&mut b);
    } else if t == 0x86dd {
        let s = ipv6_bytes(f, dp::IPV6_SRC_HI);
        let d = ipv6_bytes(f, dp::IPV6_DST_HI);
        for i in 0..16 {
            b[i] = s[i] ^ d[i];
        }
        b[28] = nw_proto(f);
        ports(&mut b);
    }
    jhash_bytes(&b, basis)
}

fn symmetric_l2(f: &OfFlow, basis: u32) -> u32 {
    let mut b = [0u8; 12];
    b[0..2].copy_from_slice(&dl_type(f).to_be_bytes());
    b[2..4].copy_from_slice(&vid_xor(f).to_be_bytes());
    b[4..10].copy_from_slice(&eth_xor(f));
    let mut h = basis;
    for w in b.chunks(4) {
        h = hash_add(h, le32(w));
    }
    hash_finish(h, basis)
}

/// A network-order value read as the little-endian word OVS's cast gives.
fn be32_as_host(v: u32) -> u32 {
    v.swap_bytes()
}

fn symmetric_l3l4(f: &OfFlow, basis: u32, udp: bool) -> u32 {
    let mut h = basis;
    match dl_type(f) {
        0x0800 => {
            let a = (get(f, dp::NW_SRC) ^ get(f, dp::NW_DST)) as u32;
            h = hash_add(h, be32_as_host(a));
        }
        0x86dd => {
            let s = ipv6_bytes(f, dp::IPV6_SRC_HI);
            let d = ipv6_bytes(f, dp::IPV6_DST_HI);
            for i in 0..2 {
                let mut x = [0u8; 8];
                for j in 0..8 {
                    x[j] = s[i * 8 + j] ^ d[i * 8 + j];
                }
                h = hash_add64(h, u64::from_le_bytes(x));
            }
        }
        _ => return symmetric_l2(f, basis),
    }
    let proto = nw_proto(f);
    h = hash_add(h, proto as u32);
    if !is_frag(f) && (matches!(proto, 6 | 132) || (udp && proto == 17)) {
        let p = (get(f, dp::TP_SRC) ^ get(f, dp::TP_DST)) as u16;
        h = hash_add(h, p.swap_bytes() as u32);
    }
    hash_finish(h, basis)
}

fn symmetric_l3(f: &OfFlow, basis: u32) -> u32 {
    // union { be32; in6_addr } @0, eth_type @16; 20 bytes.
    let mut b = [0u8; 20];
    let t = dl_type(f);
    b[16..18].copy_from_slice(&t.to_be_bytes());
    if t == 0x0800 {
        let a = (get(f, dp::NW_SRC) ^ get(f, dp::NW_DST)) as u32;
        b[0..4].copy_from_slice(&a.to_be_bytes());
    } else if t == 0x86dd {
        let s = ipv6_bytes(f, dp::IPV6_SRC_HI);
        let d = ipv6_bytes(f, dp::IPV6_DST_HI);
        for i in 0..16 {
            b[i] = s[i] ^ d[i];
        }
    }
    jhash_bytes(&b, basis)
}

/// OVS's `flow_hash_fields`; None for an unknown field set.
pub fn hash_fields(f: &OfFlow, fields: u16, basis: u16) -> Option<u32> {
    let basis = basis as u32;
    let one = |v4: DpField, v6: DpField| match dl_type(f) {
        0x0800 => jhash_bytes(&(get(f, v4) as u32).to_be_bytes(), basis),
        0x86dd => jhash_bytes(&ipv6_bytes(f, v6), basis),
        _ => basis,
    };
    Some(match fields {
        ETH_SRC => jhash_bytes(&mac_bytes(get(f, dp::DL_SRC)), basis),
        SYMMETRIC_L4 => symmetric_l4(f, basis),
        SYMMETRIC_L3L4 => symmetric_l3l4(f, basis, false),
        SYMMETRIC_L3L4_UDP => symmetric_l3l4(f, basis, true),
        NW_SRC => one(dp::NW_SRC, dp::IPV6_SRC_HI),
        NW_DST => one(dp::NW_DST, dp::IPV6_DST_HI),
        SYMMETRIC_L3 => symmetric_l3(f, basis),
        _ => return None,
    })
}

fn wc_all(wc: &mut OfFlow, fields: &[DpField]) {
    for x in fields {
        wc.0[x.word as usize] |= x.word_mask();
    }
}

const V6_SRC: [DpField; 2] = [dp::IPV6_SRC_HI, dp::IPV6_SRC_LO];
const V6_DST: [DpField; 2] = [dp::IPV6_DST_HI, dp::IPV6_DST_LO];

/// OVS's `flow_mask_hash_fields`: the bits a hash of `fields` reads.
pub fn mask_hash_fields(f: &OfFlow, wc: &mut OfFlow, fields: u16) {
    let t = dl_type(f);
    let ip = matches!(t, 0x0800 | 0x86dd);
    let addrs = |wc: &mut OfFlow, src: bool, dst: bool| {
        if t == 0x0800 {
            if src {
                wc_all(wc, &[dp::NW_SRC]);
            }
            if dst {
                wc_all(wc, &[dp::NW_DST]);
            }
        } else if t == 0x86dd {
            if src {
                wc_all(wc, &V6_SRC);
            }
            if dst {
                wc_all(wc, &V6_DST);
            }
        }
    };
    match fields {
        ETH_SRC => wc_all(wc, &[dp::DL_SRC]),
        SYMMETRIC_L4 => {
            wc_all(wc, &[dp::DL_SRC, dp::DL_DST]);
            addrs(wc, true, true);
            if ip {
                wc_all(wc, &[dp::NW_PROTO]);
                if nw_proto(f) != 17 {
                    if nw_proto(f) == 1 {
                        wc.0[dp::W_TP] |= 0xff << dp::TP_SRC.shift | 0xff << dp::TP_DST.shift;
                    } else {
                        wc_all(wc, &[dp::TP_SRC, dp::TP_DST]);
                    }
                }
            }
            wc.0[dp::W_VLAN] |= 0x1fff << dp::VLAN0_TCI.shift | 0x1fff << dp::VLAN1_TCI.shift;
        }
        SYMMETRIC_L3L4 | SYMMETRIC_L3L4_UDP => {
            if fields == SYMMETRIC_L3L4_UDP && ip && nw_proto(f) == 17 && !is_frag(f) {
                wc_all(wc, &[dp::TP_SRC, dp::TP_DST]);
            }
            if !ip {
                return;
            }
            addrs(wc, true, true);
            wc_all(wc, &[dp::NW_PROTO]);
            if matches!(nw_proto(f), 6 | 132) && !is_frag(f) {
                wc_all(wc, &[dp::TP_SRC, dp::TP_DST]);
            }
        }
        NW_SRC => addrs(wc, true, false),
        NW_DST => addrs(wc, false, true),
        SYMMETRIC_L3 => addrs(wc, true, true),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bob Jenkins' lookup3 `hashlittle` check values (OVS's jhash_bytes
    /// is hashlittle on a little-endian machine): "" and "Four score and
    /// seven years ago" with initial values 0 and 0xdeadbeef.
    #[test]
    fn jhash_matches_lookup3_reference_values() {
        assert_eq!(jhash_bytes(b"", 0), 0xdeadbeef);
        assert_eq!(jhash_bytes(b"", 0xdeadbeef), 0xbd5b7dde);
        assert_eq!(
            jhash_bytes(b"Four score and seven years ago", 0),
            0x17770551
        );
        assert_eq!(
            jhash_bytes(b"Four score and seven years ago", 1),
            0xcd628161
        );
    }

    #[test]
    fn symmetric_hashes_ignore_direction() {
        let mut a = OfFlow::default();
        a.set_bits(dp::W_DL_TYPE, dp::DL_TYPE.shift as u32, 16, 0x0800);
        a.set_bits(dp::W_NW_MISC, dp::NW_PROTO.shift as u32, 8, 6);
        a.set_bits(dp::W_NW, dp::NW_SRC.shift as u32, 32, 0xc6120001);
        a.set_bits(dp::W_NW, dp::NW_DST.shift as u32, 32, 0xc6120002);
        a.set_bits(dp::W_TP, dp::TP_SRC.shift as u32, 16, 1000);
        a.set_bits(dp::W_TP, dp::TP_DST.shift as u32, 16, 80);
        let mut b = a;
        b.set_bits(dp::W_NW, dp::NW_SRC.shift as u32, 32, 0xc6120002);
        b.set_bits(dp::W_NW, dp::NW_DST.shift as u32, 32, 0xc6120001);
        b.set_bits(dp::W_TP, dp::TP_SRC.shift as u32, 16, 80);
        b.set_bits(dp::W_TP, dp::TP_DST.shift as u32, 16, 1000);
        for fields in [
            SYMMETRIC_L4,
            SYMMETRIC_L3L4,
            SYMMETRIC_L3L4_UDP,
            SYMMETRIC_L3,
        ] {
            assert_eq!(hash_fields(&a, fields, 7), hash_fields(&b, fields, 7));
        }
        assert_ne!(hash_fields(&a, NW_SRC, 7), hash_fields(&b, NW_SRC, 7));
        assert_eq!(hash_fields(&a, 99, 0), None);
    }
}
