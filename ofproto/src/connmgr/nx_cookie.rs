//! NXM_NX_COOKIE in OpenFlow 1.0 Nicira matches.
//!
//! In NXT_FLOW_MOD and NXST_FLOW/NXST_AGGREGATE requests the cookie to
//! select rules by travels as a match field, NXM_NX_COOKIE(_W) (class 1,
//! field 30, 8 or 16 bytes), which is not a packet field and so not in
//! the codec's [`Match`](ferrovs_openflow::Match). This pass takes it out
//! of the raw message before decoding (rewriting `match_len`, padding and
//! the header length) and returns it as (cookie, mask).

/// NXM_NX_COOKIE and NXM_NX_COOKIE_W headers.
const NXM_COOKIE: u32 = 0x0001_3c08;
const NXM_COOKIE_W: u32 = 0x0001_3d10;

/// Where a message's NXM match sits: (offset of `match_len`, offset of
/// the match), for the OpenFlow 1.0 Nicira messages that carry a cookie.
fn match_site(raw: &[u8]) -> Option<(usize, usize)> {
    if raw.len() < 16 || raw[0] != 1 {
        return None;
    }
    let be32 = |o: usize| u32::from_be_bytes([raw[o], raw[o + 1], raw[o + 2], raw[o + 3]]);
    match raw[1] {
        // OFPT_VENDOR, Nicira, NXT_FLOW_MOD.
        4 if be32(8) == 0x2320 && be32(12) == 13 => Some((40, 48)),
        // OFPST_VENDOR stats, Nicira, NXST_FLOW (0) / NXST_AGGREGATE (1).
        16 if raw.len() >= 24
            && u16::from_be_bytes([raw[8], raw[9]]) == 0xffff
            && be32(12) == 0x2320
            && be32(16) <= 1 =>
        {
            Some((26, 32))
        }
        _ => None,
    }
}

/// Takes NXM_NX_COOKIE out of `raw`; returns the rewritten message and
/// the (cookie, mask) it carried, or None when there was none (or the
/// message is not one that can carry it, or is malformed: the decoder
/// then reports the problem).
pub fn take_nx_cookie(raw: &[u8]) -> Option<(Vec<u8>, u64, u64)> {
    let (len_at, start) = match_site(raw)?;
    if raw.len() < start {
        return None;
    }
    let match_len = u16::from_be_bytes([raw[len_at], raw[len_at + 1]]) as usize;
    let end = start.checked_add(match_len)?;
    let padded_end = start + match_len.div_ceil(8) * 8;
    if padded_end > raw.len() {
        return None;
    }
    let m = &raw[start..end];
    let mut o = 0;
    let mut found = None;
    while o + 4 <= m.len() {
        let h = u32::from_be_bytes([m[o], m[o + 1], m[o + 2], m[o + 3]]);
        let len = (h & 0xff) as usize;
        if o + 4 + len > m.len() {
            return None;
        }
        let v = &m[o + 4..o + 4 + len];
        let rd = |b: &[u8]| u64::from_be_bytes(b.try_into().expect("8 bytes"));
        match h {
            NXM_COOKIE => found = Some((o, 4 + len, rd(v), u64::MAX)),
            NXM_COOKIE_W => found = Some((o, 4 + len, rd(&v[..8]) & rd(&v[8..]), rd(&v[8..]))),
            _ => {}
        }
        o += 4 + len;
    }
    let (at, n, cookie, mask) = found?;
    let mut new_match = m[..at].to_vec();
    new_match.extend_from_slice(&m[at + n..]);
    let new_len = new_match.len();
    let mut out = raw[..start].to_vec();
    out.extend_from_slice(&new_match);
    out.resize(start + new_len.div_ceil(8) * 8, 0);
    out.extend_from_slice(&raw[padded_end..]);
    out[len_at..len_at + 2].copy_from_slice(&(new_len as u16).to_be_bytes());
    let total = out.len() as u16;
    out[2..4].copy_from_slice(&total.to_be_bytes());
    Some((out, cookie, mask))
}
