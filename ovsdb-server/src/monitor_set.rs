//! The monitors of one session, iterated in the order OVS's ovsdb-server
//! sends their updates: OVS keeps them in an `hmap` keyed by a hash of the
//! monitor id, so the updates of one commit go out in bucket order, and
//! within a bucket newest first. This set replays that hash table's
//! layout (its hash function, growth rule and relinking on growth) over
//! the monitors' keys, so that a client with several monitors sees its
//! updates in the same order from ferrovs as from OVS. A session holds a
//! handful of monitors: the buckets are small vectors of keys, and the
//! monitors themselves sit in a `HashMap` by key.

use std::collections::HashMap;

use serde_json::Value;

use crate::monitor::Monitor;

#[derive(Debug)]
pub struct MonitorSet {
    by_key: HashMap<String, Monitor>,
    /// Keys per bucket, head of the chain first; `buckets.len() == mask + 1`.
    buckets: Vec<Vec<(u32, String)>>,
    mask: usize,
}

impl Default for MonitorSet {
    fn default() -> Self {
        MonitorSet {
            by_key: HashMap::new(),
            buckets: vec![Vec::new()],
            mask: 0,
        }
    }
}

impl MonitorSet {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.by_key.contains_key(key)
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// Adds monitor `m` under `key` (replacing one of the same key); it is
    /// hashed by its id, as OVS hashes the monitor id.
    pub fn insert(&mut self, key: String, m: Monitor) {
        self.remove(&key);
        let h = json_hash(&m.id);
        self.buckets[h as usize & self.mask].insert(0, (h, key.clone()));
        self.by_key.insert(key, m);
        let n = self.by_key.len();
        if n / 2 > self.mask {
            let new_mask = calc_mask(n);
            if new_mask > self.mask {
                self.grow(new_mask);
            }
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<Monitor> {
        let m = self.by_key.remove(key)?;
        for b in &mut self.buckets {
            if let Some(i) = b.iter().position(|(_, k)| k == key) {
                b.remove(i);
                break;
            }
        }
        Some(m)
    }

    /// The monitors in OVS's iteration order.
    pub fn values(&self) -> impl Iterator<Item = &Monitor> {
        self.buckets
            .iter()
            .flatten()
            .filter_map(|(_, k)| self.by_key.get(k))
    }

    /// Relinks every key into `new_mask + 1` buckets, walking the old ones
    /// in order and pushing each key at the head of its new chain.
    fn grow(&mut self, new_mask: usize) {
        let mut nb: Vec<Vec<(u32, String)>> = vec![Vec::new(); new_mask + 1];
        for (h, k) in std::mem::take(&mut self.buckets).into_iter().flatten() {
            nb[h as usize & new_mask].insert(0, (h, k));
        }
        self.buckets = nb;
        self.mask = new_mask;
    }
}

/// The bucket mask OVS's hmap picks for `n` entries.
fn calc_mask(n: usize) -> usize {
    let mut m = n / 2;
    for s in [1, 2, 4, 8, 16, 32] {
        m |= m >> s;
    }
    m | ((m & 1) << 1)
}

fn mhash_add(h: u32, d: u32) -> u32 {
    let mut h = h;
    if d != 0 {
        let d = d
            .wrapping_mul(0xcc9e_2d51)
            .rotate_left(15)
            .wrapping_mul(0x1b87_3593);
        h ^= d;
    }
    h.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64)
}

fn mhash_finish(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

/// OVS's `hash_bytes` (murmur3-style, 32-bit words little-endian).
fn hash_bytes(b: &[u8], basis: u32) -> u32 {
    let mut h = basis;
    let mut chunks = b.chunks_exact(4);
    for c in &mut chunks {
        h = mhash_add(h, u32::from_le_bytes([c[0], c[1], c[2], c[3]]));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 4];
        w[..rest.len()].copy_from_slice(rest);
        h = mhash_add(h, u32::from_le_bytes(w));
    }
    mhash_finish(h ^ b.len() as u32)
}

/// OVS's `hash_int` (of the low 32 bits).
fn hash_int(x: u32, basis: u32) -> u32 {
    mhash_finish(mhash_add(mhash_add(x, 0), basis) ^ 8)
}

/// OVS's hash of a monitor id with basis 0, for strings and integers (the
/// ids clients use); other JSON ids hash their text (an order of our own).
fn json_hash(v: &Value) -> u32 {
    match v {
        Value::String(s) => hash_bytes(s.as_bytes(), 0),
        Value::Number(n) if n.is_i64() => hash_int(n.as_i64().unwrap_or(0) as u32, 0),
        other => hash_bytes(other.to_string().as_bytes(), 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::Version;
    use serde_json::json;

    fn mon(id: Value) -> Monitor {
        Monitor {
            id,
            db: 0,
            version: Version::V2,
            tables: Vec::new(),
        }
    }

    /// The order Debian's ovsdb-server 3.1 sent eight monitors' updates
    /// of one commit in (created in the order of `ids`).
    #[test]
    fn order_is_ovs_hmap_order() {
        let ids = [
            json!("z"),
            json!("a"),
            json!("m"),
            json!("b"),
            json!("q"),
            json!("c"),
            json!(7),
            json!("x1"),
        ];
        let mut s = MonitorSet::new();
        for id in ids {
            s.insert(id.to_string(), mon(id));
        }
        let got: Vec<Value> = s.values().map(|m| m.id.clone()).collect();
        let want = [
            json!("m"),
            json!("a"),
            json!("q"),
            json!("z"),
            json!("b"),
            json!(7),
            json!("c"),
            json!("x1"),
        ];
        assert_eq!(got, want);
        assert!(s.remove("\"q\"").is_some());
        assert_eq!(s.len(), 7);
        assert_eq!(s.values().count(), 7);
    }
}
