//! Zero-copy views (smoltcp style): typed, checked accessors straight over
//! the wire bytes, for code that only needs a few fields (connection
//! manager dispatch, flow-mod fast paths) and should not build a `Repr`.
//!
//! `new_checked` validates the lengths once; after that every accessor is
//! a fixed-offset read that cannot go out of bounds.  Iterators walk TLV
//! lists (OXM fields, actions) without allocating; each item is checked as
//! it is reached and a malformed tail ends the walk with an error item.

use crate::error::{DecodeError, ErrorCode, Result};
use crate::oxm::{self, OxmEntry};
use crate::version::Version;

fn be16(b: &[u8], o: usize) -> u16 {
    u16::from_be_bytes([b[o], b[o + 1]])
}
fn be32(b: &[u8], o: usize) -> u32 {
    u32::from_be_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}
fn be64(b: &[u8], o: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[o..o + 8]);
    u64::from_be_bytes(a)
}

/// A view of one OpenFlow message: the header and its body.
#[derive(Debug, Clone, Copy)]
pub struct MessageView<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> MessageView<T> {
    /// Checks that `buf` starts with a header whose length fits in `buf`.
    pub fn new_checked(buf: T) -> Result<MessageView<T>> {
        let b = buf.as_ref();
        if b.len() < 8 {
            return Err(DecodeError::new(ErrorCode::OfpbrcBadLen, "ofp_header"));
        }
        let len = be16(b, 2) as usize;
        if len < 8 || len > b.len() {
            return Err(DecodeError::new(
                ErrorCode::OfpbrcBadLen,
                "ofp_header length",
            ));
        }
        Ok(MessageView { buf })
    }
    pub fn version(&self) -> u8 {
        self.buf.as_ref()[0]
    }
    pub fn type_(&self) -> u8 {
        self.buf.as_ref()[1]
    }
    pub fn length(&self) -> u16 {
        be16(self.buf.as_ref(), 2)
    }
    pub fn xid(&self) -> u32 {
        be32(self.buf.as_ref(), 4)
    }
    /// The whole message (exactly `length` bytes).
    pub fn bytes(&self) -> &[u8] {
        &self.buf.as_ref()[..self.length() as usize]
    }
    /// The body after the 8-byte header.
    pub fn body(&self) -> &[u8] {
        &self.bytes()[8..]
    }
    /// For experimenter messages: (experimenter, subtype), if present.
    pub fn experimenter(&self) -> Option<(u32, u32)> {
        let b = self.body();
        (self.type_() == 4 && b.len() >= 8).then(|| (be32(b, 0), be32(b, 4)))
    }
}

/// Splits a byte stream into messages (e.g. a TCP receive buffer): yields
/// each complete message; stops at a partial one ([`MessageSplitter::rest`]).
pub struct MessageSplitter<'a> {
    rest: &'a [u8],
}

impl<'a> MessageSplitter<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        MessageSplitter { rest: buf }
    }
    /// Bytes not yet returned (a partial message, or garbage after an error).
    pub fn rest(&self) -> &'a [u8] {
        self.rest
    }
}

impl<'a> Iterator for MessageSplitter<'a> {
    type Item = Result<MessageView<&'a [u8]>>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.len() < 8 {
            return None;
        }
        let len = be16(self.rest, 2) as usize;
        if len < 8 {
            return Some(Err(DecodeError::new(
                ErrorCode::OfpbrcBadLen,
                "ofp_header length",
            )));
        }
        if len > self.rest.len() {
            return None;
        }
        let (m, r) = self.rest.split_at(len);
        self.rest = r;
        Some(MessageView::new_checked(m))
    }
}

/// A view of an OpenFlow 1.1+ `ofp_flow_mod` body (after the header).
#[derive(Debug, Clone, Copy)]
pub struct FlowModView<'a> {
    body: &'a [u8],
    match_len: usize,
    match_padded: usize,
}

impl<'a> FlowModView<'a> {
    /// Checks the fixed part and the `ofp_match` length.
    pub fn new_checked(body: &'a [u8]) -> Result<FlowModView<'a>> {
        if body.len() < 44 {
            return Err(DecodeError::new(ErrorCode::OfpbrcBadLen, "ofp11_flow_mod"));
        }
        if be16(body, 40) != 1 {
            return Err(DecodeError::new(ErrorCode::OfpbmcBadType, "ofp_match type"));
        }
        let match_len = be16(body, 42) as usize;
        let match_padded = match_len.div_ceil(8) * 8;
        if match_len < 4 || 40 + match_padded > body.len() {
            return Err(DecodeError::new(
                ErrorCode::OfpbmcBadLen,
                "ofp_match length",
            ));
        }
        Ok(FlowModView {
            body,
            match_len,
            match_padded,
        })
    }
    pub fn cookie(&self) -> u64 {
        be64(self.body, 0)
    }
    pub fn cookie_mask(&self) -> u64 {
        be64(self.body, 8)
    }
    pub fn table_id(&self) -> u8 {
        self.body[16]
    }
    pub fn command(&self) -> u8 {
        self.body[17]
    }
    pub fn idle_timeout(&self) -> u16 {
        be16(self.body, 18)
    }
    pub fn hard_timeout(&self) -> u16 {
        be16(self.body, 20)
    }
    pub fn priority(&self) -> u16 {
        be16(self.body, 22)
    }
    pub fn buffer_id(&self) -> u32 {
        be32(self.body, 24)
    }
    pub fn out_port(&self) -> u32 {
        be32(self.body, 28)
    }
    pub fn out_group(&self) -> u32 {
        be32(self.body, 32)
    }
    pub fn flags(&self) -> u16 {
        be16(self.body, 36)
    }
    /// The OXM TLVs of the match (no header, no padding).
    pub fn oxm_bytes(&self) -> &'a [u8] {
        &self.body[44..40 + self.match_len]
    }
    /// Iterates over the match fields without allocating.
    pub fn oxm_fields(&self) -> OxmIter<'a> {
        OxmIter {
            rest: self.oxm_bytes(),
        }
    }
    /// The instruction list bytes.
    pub fn instructions(&self) -> &'a [u8] {
        &self.body[40 + self.match_padded..]
    }
}

/// Iterator over NXM/OXM TLVs.
pub struct OxmIter<'a> {
    rest: &'a [u8],
}

impl<'a> OxmIter<'a> {
    pub fn new(tlvs: &'a [u8]) -> Self {
        OxmIter { rest: tlvs }
    }
}

impl<'a> Iterator for OxmIter<'a> {
    type Item = Result<OxmEntry<'a>>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match oxm::parse_entry(self.rest) {
            Ok((e, n)) => {
                self.rest = &self.rest[n..];
                Some(Ok(e))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

/// One action as it sits on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionView<'a> {
    /// OFPAT_* (0xffff for experimenter/vendor).
    pub type_: u16,
    /// Experimenter id and subtype for vendor actions.
    pub experimenter: Option<(u32, u16)>,
    /// The whole action, header included.
    pub bytes: &'a [u8],
}

/// Iterator over an action list (`len` checked per action).
pub struct ActionIter<'a> {
    rest: &'a [u8],
}

impl<'a> ActionIter<'a> {
    pub fn new(actions: &'a [u8]) -> Self {
        ActionIter { rest: actions }
    }
}

impl<'a> Iterator for ActionIter<'a> {
    type Item = Result<ActionView<'a>>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let bad = DecodeError::new(ErrorCode::OfpbacBadLen, "action length");
        if self.rest.len() < 8 {
            self.rest = &[];
            return Some(Err(bad));
        }
        let len = be16(self.rest, 2) as usize;
        if len < 8 || len & 7 != 0 || len > self.rest.len() {
            self.rest = &[];
            return Some(Err(bad));
        }
        let (a, r) = self.rest.split_at(len);
        self.rest = r;
        let type_ = be16(a, 0);
        let experimenter = (type_ == 0xffff).then(|| (be32(a, 4), be16(a, 8)));
        Some(Ok(ActionView {
            type_,
            experimenter,
            bytes: a,
        }))
    }
}

/// Views of a whole message stream are version-agnostic; this says whether
/// a view's version is one we speak.
pub fn supported(version: u8) -> bool {
    Version::from_wire(version).is_some_and(|v| Version::SUPPORTED.contains(&v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{FlowMod, Message};
    use crate::{Action, Field, Instruction, Match, Value};

    #[test]
    fn flow_mod_view_matches_repr() {
        let mut m = Match::new();
        m.set_exact(Field::EthType, Value::from_u16(0x0800));
        m.set_exact(Field::InPort, Value::from_u16(3));
        let fm = FlowMod {
            cookie: 7,
            priority: 9,
            table_id: 2,
            r#match: m,
            instructions: vec![Instruction::ApplyActions(vec![
                Action::Output {
                    port: 1,
                    max_len: 0,
                },
                Action::Resubmit {
                    in_port: 0xfff8,
                    table: 3,
                    ct: false,
                },
            ])],
            ..FlowMod::default()
        };
        let b = Message::FlowMod(fm).encode(Version::Of13, 5);
        let mut split = MessageSplitter::new(&b);
        let v = split.next().unwrap().unwrap();
        assert!(split.next().is_none());
        assert_eq!((v.version(), v.type_(), v.xid()), (4, 14, 5));
        let f = FlowModView::new_checked(v.body()).unwrap();
        assert_eq!((f.cookie(), f.priority(), f.table_id()), (7, 9, 2));
        assert_eq!(f.oxm_fields().count(), 2);
        let inst = f.instructions();
        let acts: Vec<_> = ActionIter::new(&inst[8..]).map(|a| a.unwrap()).collect();
        assert_eq!(acts.len(), 2);
        assert_eq!(acts[1].experimenter, Some((0x2320, 14)));
        // partial message: nothing yielded, all left in rest()
        let mut s = MessageSplitter::new(&b[..b.len() - 1]);
        assert!(s.next().is_none());
        assert_eq!(s.rest().len(), b.len() - 1);
    }
}
