//! The encoded table-features reply, kept between requests.
//!
//! Every `ovs-ofctl` command that reads table names asks for the table
//! features first, and the answer (254 tables, each listing every match
//! field, action and next table) is about 600 KB to build and encode; it
//! was most of the switch's cost of a short command such as `del-flows`.
//! The reply depends only on the version and on each table's name,
//! eviction flag and flow limit, so the cache is keyed by exactly those
//! (compared at every request: the key is small, so it can never go stale)
//! and holds the reply's messages as encoded, with the transaction id
//! patched per request. One entry per version, since clients mix them (a
//! script's `-O OpenFlow14 --bundle add-flows` and `-O OpenFlow13
//! dump-flows`).

use ferrovs_openflow::Version;

/// What the reply is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Key {
    pub version: Version,
    /// Per visible table: name, eviction, max_flows.
    pub tables: Vec<(Option<String>, bool, u32)>,
}

#[derive(Debug, Default)]
pub(crate) struct TableFeaturesCache {
    /// At most one per version.
    entries: Vec<(Key, Vec<u8>)>,
}

impl TableFeaturesCache {
    /// Appends the reply for `key` with transaction id `xid` to `out`, if
    /// it is cached; says whether it was.
    pub fn append(&self, key: &Key, xid: u32, out: &mut Vec<u8>) -> bool {
        let Some((_, bytes)) = self.entries.iter().find(|(k, _)| k == key) else {
            return false;
        };
        let mut at = out.len();
        out.extend_from_slice(bytes);
        while at + 8 <= out.len() {
            let len = usize::from(u16::from_be_bytes([out[at + 2], out[at + 3]]));
            out[at + 4..at + 8].copy_from_slice(&xid.to_be_bytes());
            at += len.max(8);
        }
        true
    }

    /// Keeps `messages` (whole encoded messages) as the reply for `key`.
    /// (It replaces the entry of the same version.)
    pub fn put(&mut self, key: Key, messages: Vec<u8>) {
        self.entries.retain(|(k, _)| k.version != key.version);
        self.entries.push((key, messages));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: Option<&str>) -> Key {
        Key {
            version: Version::Of13,
            tables: vec![(name.map(String::from), false, 1000)],
        }
    }

    impl TableFeaturesCache {
        /// [`TableFeaturesCache::append`] after bytes already queued,
        /// which it must leave alone; what it appended.
        fn get(&self, key: &Key, xid: u32) -> Option<Vec<u8>> {
            let mut out = vec![1, 2, 3];
            let hit = self.append(key, xid, &mut out);
            assert_eq!(out[..3], [1, 2, 3]);
            hit.then(|| out.split_off(3))
        }
    }

    #[test]
    fn hit_patches_every_xid_and_a_changed_key_misses() {
        let mut c = TableFeaturesCache::default();
        assert_eq!(c.get(&key(None), 1), None);
        let msg = |xid: u8| vec![4, 19, 0, 10, 0, 0, 0, xid, 0xaa, 0xbb];
        c.put(key(None), [msg(1), msg(1)].concat());
        assert_eq!(c.get(&key(None), 7), Some([msg(7), msg(7)].concat()));
        assert_eq!(c.get(&key(Some("t0")), 7), None);
        let mut other = key(None);
        other.version = Version::Of14;
        assert_eq!(c.get(&other, 7), None);
        // Another version has an entry of its own; a changed key of one
        // version replaces only that version's.
        c.put(other.clone(), msg(2));
        assert_eq!(c.get(&other, 3), Some(msg(3)));
        assert_eq!(c.get(&key(None), 3), Some([msg(3), msg(3)].concat()));
        c.put(key(Some("t0")), msg(4));
        assert_eq!(c.get(&key(None), 3), None);
        assert_eq!(c.get(&key(Some("t0")), 5), Some(msg(5)));
        assert_eq!(c.get(&other, 5), Some(msg(5)));
    }
}
