//! Port number -> position, in constant time.
//!
//! Datapath port numbers are small and dense in practice (OVS hands them
//! out from 1 up), so numbers below [`DIRECT_LIMIT`] index a plain array
//! of positions (one load, no hashing, no search: the PMD asks once per
//! output port per batch and once per miss for the in_port classifier);
//! the rare larger number falls back to a hash map. Built by control
//! threads (or the PMD on a new in_port), read on the fast path.

use std::collections::HashMap;

/// Port numbers indexed by the array (256 KiB of positions at most).
pub const DIRECT_LIMIT: u32 = 1 << 16;
const NONE: u32 = u32::MAX;

#[derive(Clone, Default, Debug)]
pub struct PortIndex {
    direct: Vec<u32>,
    sparse: HashMap<u32, u32>,
}

impl PortIndex {
    #[inline]
    pub fn get(&self, port_no: u32) -> Option<usize> {
        match self.direct.get(port_no as usize) {
            Some(&NONE) => None,
            Some(&pos) => Some(pos as usize),
            None if port_no < DIRECT_LIMIT => None,
            None => self.sparse.get(&port_no).map(|&p| p as usize),
        }
    }

    pub fn set(&mut self, port_no: u32, pos: usize) {
        debug_assert!(pos < NONE as usize);
        if port_no < DIRECT_LIMIT {
            let i = port_no as usize;
            if self.direct.len() <= i {
                self.direct.resize(i + 1, NONE);
            }
            self.direct[i] = pos as u32;
        } else {
            self.sparse.insert(port_no, pos as u32);
        }
    }

    pub fn clear(&mut self) {
        self.direct.clear();
        self.sparse.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_and_large_numbers() {
        let mut x = PortIndex::default();
        assert_eq!(x.get(0), None);
        x.set(5, 0);
        x.set(DIRECT_LIMIT + 9, 1);
        x.set(u32::MAX - 1, 2);
        assert_eq!(x.get(5), Some(0));
        assert_eq!(x.get(4), None);
        assert_eq!(x.get(6), None);
        assert_eq!(x.get(DIRECT_LIMIT - 1), None);
        assert_eq!(x.get(DIRECT_LIMIT + 9), Some(1));
        assert_eq!(x.get(u32::MAX - 1), Some(2));
        assert_eq!(x.get(u32::MAX), None);
        x.clear();
        assert_eq!(x.get(5), None);
    }
}
