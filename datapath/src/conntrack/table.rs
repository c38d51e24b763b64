//! The connection table: keys of both directions -> connection, in
//! shards chosen by key hash, each a hash map behind its own lock.
//!
//! Why it scales: a PMD thread locks only the shard of the key it looks
//! up, for the time of one hash-map probe and a reference-count increment;
//! with [`N_SHARDS`] shards, threads working on different connections
//! almost never meet, and there is no global lock on the packet path.
//! Each shard sits on its own cache lines. Creation inserts the two keys
//! one shard at a time (never two shard locks held at once, so no lock
//! order to get wrong); a key already present makes the insertion fail and
//! roll back, which is how two threads racing to create the same
//! connection (or to take the same NAT tuple) are told apart.
//!
//! Expiry is off the packet path: [`Table::sweep`], called from a control
//! thread with the current time, walks the shards one lock at a time and
//! removes both keys of each expired connection. Lookups treat expired or
//! dead connections as absent, so a late sweep changes nothing visible.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};

use crossbeam_utils::CachePadded;

use super::conn::Conn;
use super::key::ConnKey;

/// Number of shards (a power of two).
pub const N_SHARDS: usize = 256;

/// A table entry: the connection and which of its keys this is.
#[derive(Clone, Debug)]
pub struct Entry {
    pub conn: Arc<Conn>,
    pub reply: bool,
}

/// Hashes the words of a key as they are written (the key's derived
/// `Hash` writes its fields one by one); multiply-rotate per word.
#[derive(Default)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    #[inline]
    fn finish(&self) -> u64 {
        let h = self.0.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        h ^ (h >> 29)
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(*b as u64);
        }
    }
    #[inline]
    fn write_u8(&mut self, v: u8) {
        self.write_u64(v as u64)
    }
    #[inline]
    fn write_u16(&mut self, v: u16) {
        self.write_u64(v as u64)
    }
    #[inline]
    fn write_u32(&mut self, v: u32) {
        self.write_u64(v as u64)
    }
    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    #[inline]
    fn write_u128(&mut self, v: u128) {
        self.write_u64(v as u64);
        self.write_u64((v >> 64) as u64);
    }
    #[inline]
    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64)
    }
}

type Shard = HashMap<ConnKey, Entry, BuildHasherDefault<KeyHasher>>;

pub struct Table {
    shards: Box<[CachePadded<Mutex<Shard>>]>,
    basis: u64,
}

fn lock(m: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Table {
    pub fn new(basis: u64) -> Table {
        Table {
            shards: (0..N_SHARDS)
                .map(|_| CachePadded::new(Mutex::new(Shard::default())))
                .collect(),
            basis,
        }
    }

    #[inline]
    fn shard(&self, k: &ConnKey) -> &Mutex<Shard> {
        &self.shards[k.hash(self.basis) as usize & (N_SHARDS - 1)]
    }

    /// The live connection with key `k` at `now`, and whether `k` is its
    /// reply key.
    #[inline]
    pub fn lookup(&self, k: &ConnKey, now: u64) -> Option<Entry> {
        let e = lock(self.shard(k)).get(k).cloned()?;
        (!e.conn.expired(now)).then_some(e)
    }

    /// True if no live connection has key `k`.
    pub fn is_free(&self, k: &ConnKey, now: u64) -> bool {
        self.lookup(k, now).is_none()
    }

    /// Inserts `k -> e` unless a live entry holds `k`; returns the entry
    /// of an expired connection it replaced.
    fn insert_key(&self, k: &ConnKey, e: Entry, now: u64) -> Result<Option<Entry>, ()> {
        use std::collections::hash_map::Entry as Slot;
        // One hash and probe for the check and the insertion.
        match lock(self.shard(k)).entry(*k) {
            Slot::Occupied(o) if !o.get().conn.expired(now) => Err(()),
            Slot::Occupied(mut o) => Ok(Some(o.insert(e))),
            Slot::Vacant(v) => {
                v.insert(e);
                Ok(None)
            }
        }
    }

    /// Removes `k` if it points at `conn`.
    fn remove_key(&self, k: &ConnKey, conn: &Arc<Conn>) -> bool {
        let mut s = lock(self.shard(k));
        if s.get(k).is_some_and(|e| Arc::ptr_eq(&e.conn, conn)) {
            s.remove(k);
            true
        } else {
            false
        }
    }

    /// Inserts both keys of `conn`. On failure (a key is taken by a live
    /// connection) nothing is left inserted. Returns the expired
    /// connections this removed from the table (their original key gone
    /// by this call), which the caller releases as if swept, in both cases.
    pub fn insert(&self, conn: &Arc<Conn>, now: u64) -> (bool, Vec<Arc<Conn>>) {
        let mut replaced = Vec::new();
        let mut gone = Vec::new();
        let fwd = Entry {
            conn: conn.clone(),
            reply: false,
        };
        match self.insert_key(&conn.fwd, fwd, now) {
            Ok(old) => replaced.extend(old),
            Err(()) => return (false, gone),
        }
        if conn.rev != conn.fwd {
            let rev = Entry {
                conn: conn.clone(),
                reply: true,
            };
            match self.insert_key(&conn.rev, rev, now) {
                Ok(old) => replaced.extend(old),
                Err(()) => {
                    self.remove_key(&conn.fwd, conn);
                    for old in replaced {
                        self.release_replaced(old, &mut gone);
                    }
                    return (false, gone);
                }
            }
        }
        for old in replaced {
            self.release_replaced(old, &mut gone);
        }
        (true, gone)
    }

    /// An expired connection lost one key to an insertion: remove its
    /// other key; it counts as gone here if its original key was the one
    /// replaced or is removed now (exactly one remover sees that).
    fn release_replaced(&self, old: Entry, gone: &mut Vec<Arc<Conn>>) {
        let c = old.conn;
        let fwd_gone = if old.reply {
            self.remove_key(&c.fwd, &c)
        } else {
            self.remove_key(&c.rev, &c);
            true
        };
        if fwd_gone {
            gone.push(c);
        }
    }

    /// Removes both keys of `conn`; true if its original key was present
    /// (so that exactly one caller releases its limits).
    pub fn remove(&self, conn: &Arc<Conn>) -> bool {
        let had = self.remove_key(&conn.fwd, conn);
        self.remove_key(&conn.rev, conn);
        had
    }

    /// Removes every connection for which `dead(conn)` holds, shard by
    /// shard, and returns them.
    pub fn sweep_if(&self, mut dead: impl FnMut(&Conn) -> bool) -> Vec<Arc<Conn>> {
        let mut out = Vec::new();
        for sh in self.shards.iter() {
            let mut s = lock(sh);
            s.retain(|_, e| {
                if !e.reply && dead(&e.conn) {
                    out.push(e.conn.clone());
                    false
                } else {
                    true
                }
            });
        }
        for c in &out {
            if c.rev != c.fwd {
                self.remove_key(&c.rev, c);
            }
        }
        out
    }

    /// Removes connections expired at `now` (expiry sweep).
    pub fn sweep(&self, now: u64) -> Vec<Arc<Conn>> {
        self.sweep_if(|c| c.expired(now))
    }

    /// Calls `f` on every connection once (through its original key).
    pub fn for_each(&self, mut f: impl FnMut(&Arc<Conn>)) {
        for sh in self.shards.iter() {
            let conns: Vec<Arc<Conn>> = lock(sh)
                .values()
                .filter(|e| !e.reply)
                .map(|e| e.conn.clone())
                .collect();
            for c in &conns {
                f(c);
            }
        }
    }

    /// Entries per shard (for `dpctl/ct-bkts`).
    pub fn shard_sizes(&self) -> Vec<usize> {
        self.shards.iter().map(|s| lock(s).len()).collect()
    }
}
