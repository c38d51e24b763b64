//! The connection table: keys of both directions -> connection, in
//! shards chosen by key hash, each a hash table behind its own lock. A
//! slot is the connection, which of its keys it is filed under and that
//! key's hash (16 bytes): the key itself lives in the connection only
//! (`ConnKey::hash` computed once per lookup, its low bits choosing the
//! shard and the others the bucket).
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

use std::sync::{Arc, Mutex, MutexGuard};

use crossbeam_utils::CachePadded;
use hashbrown::HashTable;

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

/// What a shard holds for one key: the connection, which of its keys
/// this is, and that key's hash (in the padding an `Entry` would have), so
/// that growing a shard and skipping a colliding slot never read the
/// connection.
#[derive(Debug)]
struct Slot {
    conn: Arc<Conn>,
    hash: u32,
    reply: bool,
}

impl Slot {
    /// True if this slot is key `k` of hash `h`.
    #[inline]
    fn is(&self, k: &ConnKey, h: u32) -> bool {
        self.hash == h && self.conn.key(self.reply) == k
    }
}

/// A shard: slots without their keys (each slot's key is the one its
/// connection holds), so a connection costs two 16-byte slots here.
type Shard = HashTable<Slot>;

pub struct Table {
    shards: Box<[CachePadded<Mutex<Shard>>]>,
    basis: u64,
}

fn lock(m: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The hash inside a shard, from the key's hash whose low bits chose the
/// shard: the other bits at the bottom (bucket index), and a mix of them
/// at the top (the table's 7-bit tag), so neither repeats the shard's.
#[inline]
fn in_shard(h: u32) -> u64 {
    let x = (h >> 8) as u64;
    (x.wrapping_mul(0x9e37_79b9_7f4a_7c15) & !0xffff_ffff) | x
}

fn rehash(s: &Slot) -> u64 {
    in_shard(s.hash)
}

impl Table {
    pub fn new(basis: u64) -> Table {
        Table {
            shards: (0..N_SHARDS)
                .map(|_| CachePadded::new(Mutex::new(Shard::new())))
                .collect(),
            basis,
        }
    }

    /// The shard of `k` and the key's hash.
    #[inline]
    fn place(&self, k: &ConnKey) -> (&Mutex<Shard>, u32) {
        let h = k.hash(self.basis);
        (&self.shards[h as usize & (N_SHARDS - 1)], h)
    }

    /// The live connection with key `k` at `now`, and whether `k` is its
    /// reply key.
    #[inline]
    pub fn lookup(&self, k: &ConnKey, now: u64) -> Option<Entry> {
        let (shard, h) = self.place(k);
        let e = lock(shard)
            .find(in_shard(h), |s| s.is(k, h))
            .map(|s| Entry {
                conn: s.conn.clone(),
                reply: s.reply,
            })?;
        (!e.conn.expired(now)).then_some(e)
    }

    /// True if no live connection has key `k`.
    pub fn is_free(&self, k: &ConnKey, now: u64) -> bool {
        self.lookup(k, now).is_none()
    }

    /// Inserts `k -> e` unless a live entry holds `k`; returns the entry
    /// of an expired connection it replaced.
    fn insert_key(&self, k: &ConnKey, e: Entry, now: u64) -> Result<Option<Entry>, ()> {
        let (shard, h) = self.place(k);
        let mut s = lock(shard);
        match s.find_mut(in_shard(h), |x| x.is(k, h)) {
            Some(old) if !old.conn.expired(now) => Err(()),
            Some(old) => {
                let was = Entry {
                    conn: std::mem::replace(&mut old.conn, e.conn),
                    reply: old.reply,
                };
                old.reply = e.reply;
                Ok(Some(was))
            }
            None => {
                let slot = Slot {
                    conn: e.conn,
                    hash: h,
                    reply: e.reply,
                };
                s.insert_unique(in_shard(h), slot, rehash);
                Ok(None)
            }
        }
    }

    /// Removes `k` if it points at `conn`.
    fn remove_key(&self, k: &ConnKey, conn: &Arc<Conn>) -> bool {
        let (shard, h) = self.place(k);
        let mut s = lock(shard);
        match s.find_entry(in_shard(h), |x| x.is(k, h) && Arc::ptr_eq(&x.conn, conn)) {
            Ok(e) => {
                e.remove();
                true
            }
            Err(_) => false,
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
            s.retain(|e| {
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
                .iter()
                .filter(|e| !e.reply)
                .map(|e| e.conn.clone())
                .collect();
            for c in &conns {
                f(c);
            }
        }
    }

    /// Live connections per shard, each counted once, in the shard of its
    /// original key (for `dpctl/ct-bkts`: how evenly keys spread).
    pub fn conns_per_shard(&self, now: u64) -> Vec<usize> {
        self.shards
            .iter()
            .map(|sh| {
                // Connections are looked at after the shard's lock is let
                // go, as in `for_each`.
                let conns: Vec<Arc<Conn>> = lock(sh)
                    .iter()
                    .filter(|e| !e.reply)
                    .map(|e| e.conn.clone())
                    .collect();
                conns.iter().filter(|c| !c.expired(now)).count()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_slot_is_16_bytes() {
        assert_eq!(std::mem::size_of::<super::Slot>(), 16);
    }
}
