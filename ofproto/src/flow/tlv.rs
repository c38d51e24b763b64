//! Tunnel metadata TLV mapping: where `tun_metadata<n>` lives among the
//! 256 option bytes of an [`OfFlow`](super::OfFlow).
//!
//! OVS maps each `tun_metadata<n>` to a Geneve option (class, type,
//! length) through `NXT_TLV_TABLE_MOD` and gives it a slice of its 256-byte
//! option space. `TlvMap` is that table for one switch: `add` allocates
//! the first free 4-byte-aligned slice big enough (lengths are multiples
//! of 4, at most 124, as OVS requires), `remove` frees it. A flow's option
//! bytes are only meaningful together with the map in force when they
//! were written; the present-map bit `n` says the option was seen.

use super::TUN_MD_BYTES;

/// Most `tun_metadata` fields.
pub const TUN_METADATA_FIELDS: usize = 64;

/// One mapped option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlvSlot {
    pub class: u16,
    pub r#type: u8,
    /// Option length in bytes (4..=124, a multiple of 4).
    pub len: u8,
    /// Byte offset in the option space.
    pub offset: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TlvError {
    #[error("tun_metadata index out of range")]
    BadIndex,
    #[error("tun_metadata{0} is already mapped")]
    AlreadyMapped(u8),
    #[error("option length must be a multiple of 4 in 0..=124")]
    BadLength,
    #[error("the option is already mapped to another field")]
    DupEntry,
    #[error("no room left in the tunnel metadata space")]
    NoSpace,
}

/// The switch's TLV table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlvMap {
    slots: [Option<TlvSlot>; TUN_METADATA_FIELDS],
}

impl Default for TlvMap {
    fn default() -> Self {
        TlvMap::EMPTY
    }
}

impl TlvMap {
    /// No option mapped.
    pub const EMPTY: TlvMap = TlvMap {
        slots: [None; TUN_METADATA_FIELDS],
    };

    pub fn new() -> TlvMap {
        TlvMap::EMPTY
    }

    /// The mapping of `tun_metadata<idx>`.
    pub fn get(&self, idx: u8) -> Option<TlvSlot> {
        self.slots.get(idx as usize).copied().flatten()
    }

    /// Maps `tun_metadata<idx>` to option (class, type) of `len` bytes.
    pub fn add(&mut self, idx: u8, class: u16, r#type: u8, len: u8) -> Result<TlvSlot, TlvError> {
        let i = idx as usize;
        if i >= TUN_METADATA_FIELDS {
            return Err(TlvError::BadIndex);
        }
        if self.slots[i].is_some() {
            return Err(TlvError::AlreadyMapped(idx));
        }
        if len > 124 || !len.is_multiple_of(4) {
            return Err(TlvError::BadLength);
        }
        if self
            .slots
            .iter()
            .flatten()
            .any(|s| s.class == class && s.r#type == r#type)
        {
            return Err(TlvError::DupEntry);
        }
        let mut used = [false; TUN_MD_BYTES / 4];
        for s in self.slots.iter().flatten() {
            let (o, l) = (s.offset as usize / 4, s.len as usize / 4);
            for u in &mut used[o..o + l] {
                *u = true;
            }
        }
        let need = len as usize / 4;
        let start = (0..=used.len() - need)
            .find(|&o| used[o..o + need].iter().all(|u| !u))
            .ok_or(TlvError::NoSpace)?;
        let slot = TlvSlot {
            class,
            r#type,
            len,
            offset: (start * 4) as u8,
        };
        self.slots[i] = Some(slot);
        Ok(slot)
    }

    /// The mapped fields, by index.
    pub fn iter(&self) -> impl Iterator<Item = (u8, TlvSlot)> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.map(|s| (i as u8, s)))
    }

    /// Unmaps `tun_metadata<idx>`.
    pub fn remove(&mut self, idx: u8) -> Option<TlvSlot> {
        self.slots.get_mut(idx as usize).and_then(|s| s.take())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_is_first_fit_and_reuses_space() {
        let mut m = TlvMap::new();
        assert_eq!(m.add(0, 0x102, 0x80, 4).unwrap().offset, 0);
        assert_eq!(m.add(1, 0x102, 0x81, 8).unwrap().offset, 4);
        assert_eq!(m.add(0, 1, 1, 4), Err(TlvError::AlreadyMapped(0)));
        assert_eq!(m.add(2, 1, 1, 6), Err(TlvError::BadLength));
        assert_eq!(m.add(2, 0x102, 0x81, 4), Err(TlvError::DupEntry));
        assert!(m.remove(0).is_some());
        assert_eq!(m.add(3, 1, 1, 4).unwrap().offset, 0);
        assert_eq!(m.add(4, 1, 2, 124).unwrap().offset, 12);
        assert_eq!(m.add(5, 1, 3, 124), Err(TlvError::NoSpace));
        assert_eq!(m.add(5, 1, 3, 120).unwrap().offset, 136);
        assert_eq!(m.add(6, 1, 4, 4), Err(TlvError::NoSpace));
        // A zero-length option takes no space (OVS allows it).
        assert_eq!(m.add(6, 1, 4, 0).unwrap().len, 0);
    }
}
