//! Locks (RFC 7047 section 4.1.8-4.1.10, with OVS's semantics): named locks,
//! each a queue of waiters whose front is the owner.
//!
//! A session registers at most one waiter per lock name, with "lock"
//! (joins at the back) or "steal" (goes to the front). A steal notifies the
//! previous owner "stolen"; that owner leaves the queue only if it had
//! itself stolen the lock, otherwise it waits again behind the thief (so it
//! gets the lock back when the thief lets go). A waiter that left the queue
//! that way stays registered until its session says "unlock", as in OVS.
//! Whenever a waiter leaves a queue that is still not empty, its owner is
//! told "locked".
//!
//! Every operation returns the notifications to send, so the caller sends
//! them after updating state and the lock table never talks to sockets.
//!
//! Each lock lives in a slot of a slab, found by name through one map;
//! a session keeps the slot numbers it registered, so closing a session
//! visits only its own locks (no hashing except to forget a lock nobody
//! wants any more) and frees one name per lock (the map and the slot
//! share it). A queue of one waiter, the
//! common case, needs no allocation of its own.

use crate::error::{OvsdbError, Result};
use smallvec::SmallVec;
use std::collections::HashMap;
use std::sync::Arc;

pub type SessionId = u64;

/// How a waiter asked for its lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    Wait,
    Steal,
}

/// One named lock: its queue (front = owner) and the sessions that are
/// registered for it without being in the queue (stolen from after a
/// steal of their own).
#[derive(Debug)]
struct Lock {
    name: Arc<str>,
    queue: SmallVec<[(SessionId, LockMode); 1]>,
    parked: SmallVec<[SessionId; 0]>,
}

impl Lock {
    fn is_registered(&self, s: SessionId) -> bool {
        self.queue.iter().any(|(x, _)| *x == s) || self.parked.contains(&s)
    }
    fn is_unused(&self) -> bool {
        self.queue.is_empty() && self.parked.is_empty()
    }
}

/// The slot numbers a session registered. Unlocked slots stay in the
/// list (an unlock does not search it) and are skipped at close, since
/// the lock no longer has the session; `live` counts the real ones so the
/// list is compacted before stale entries outnumber them.
#[derive(Debug, Default)]
struct Registrations {
    slots: Vec<u32>,
    live: usize,
}

#[derive(Debug, Default)]
pub struct Locks {
    by_name: HashMap<Arc<str>, u32>,
    slab: Vec<Option<Lock>>,
    free: Vec<u32>,
    registered: HashMap<SessionId, Registrations>,
}

/// A notification to deliver: session, method ("locked"/"stolen"), lock.
pub type Notice = (SessionId, &'static str, String);

impl Locks {
    fn get(&self, name: &str) -> Option<&Lock> {
        let i = *self.by_name.get(name)?;
        self.slab.get(i as usize)?.as_ref()
    }

    pub fn owner(&self, name: &str) -> Option<SessionId> {
        self.get(name)
            .and_then(|l| l.queue.first())
            .map(|(s, _)| *s)
    }

    pub fn holds(&self, name: &str, s: SessionId) -> bool {
        self.owner(name) == Some(s)
    }

    /// The slot of `name`, made when missing.
    fn slot_of(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.by_name.get(name) {
            return i;
        }
        let name: Arc<str> = name.into();
        let lock = Lock {
            name: name.clone(),
            queue: SmallVec::new(),
            parked: SmallVec::new(),
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.slab[i as usize] = Some(lock);
                i
            }
            None => {
                self.slab.push(Some(lock));
                (self.slab.len() - 1) as u32
            }
        };
        self.by_name.insert(name, i);
        i
    }

    /// Forgets slot `i` if nobody waits or is registered there.
    fn release_if_unused(&mut self, i: u32) {
        let slot = &mut self.slab[i as usize];
        if slot.as_ref().is_some_and(Lock::is_unused) {
            if let Some(l) = slot.take() {
                self.by_name.remove(&l.name);
            }
            self.free.push(i);
        }
    }

    /// "lock" or "steal": returns whether `s` owns the lock now, and the
    /// notifications to send.
    pub fn acquire(
        &mut self,
        name: &str,
        s: SessionId,
        mode: LockMode,
    ) -> Result<(bool, Vec<Notice>)> {
        if self.get(name).is_some_and(|l| l.is_registered(s)) {
            let method = match mode {
                LockMode::Wait => "lock",
                LockMode::Steal => "steal",
            };
            return Err(OvsdbError::syntax(format!(
                "must issue \"unlock\" before new \"{method}\""
            )));
        }
        let i = self.slot_of(name);
        let regs = self.registered.entry(s).or_default();
        regs.slots.push(i);
        regs.live += 1;
        let Some(lock) = self.slab[i as usize].as_mut() else {
            unreachable!("slot_of returns a filled slot")
        };
        let mut out = Vec::new();
        match mode {
            LockMode::Wait => lock.queue.push((s, mode)),
            LockMode::Steal => {
                if let Some(&(victim, victim_mode)) = lock.queue.first() {
                    if victim_mode == LockMode::Steal {
                        lock.queue.remove(0);
                        lock.parked.push(victim);
                    }
                    out.push((victim, "stolen", name.to_string()));
                }
                lock.queue.insert(0, (s, mode));
            }
        }
        Ok((lock.queue[0].0 == s, out))
    }

    /// "unlock": removes the session's waiter for `name`.
    pub fn unlock(&mut self, name: &str, s: SessionId) -> Result<Vec<Notice>> {
        let found = self.by_name.get(name).copied().filter(|&i| {
            self.slab[i as usize]
                .as_ref()
                .is_some_and(|l| l.is_registered(s))
        });
        let Some(i) = found else {
            return Err(OvsdbError::syntax(
                "unlock: \"unlock\" without \"lock\" or \"steal\"",
            ));
        };
        if let Some(regs) = self.registered.get_mut(&s) {
            regs.live -= 1;
            if regs.live == 0 {
                self.registered.remove(&s);
            } else if regs.slots.len() > 64 && regs.slots.len() > 2 * regs.live {
                let slab = &self.slab;
                regs.slots.retain(|&j| {
                    j != i
                        && slab[j as usize]
                            .as_ref()
                            .is_some_and(|l| l.is_registered(s))
                });
                regs.slots.sort_unstable();
                regs.slots.dedup();
            }
        }
        let out = self.leave(i, s);
        self.release_if_unused(i);
        Ok(out)
    }

    /// Takes session `s` out of lock `i` (queue or parked); the new owner
    /// is told "locked" if `s` left the queue and someone is still in it.
    fn leave(&mut self, i: u32, s: SessionId) -> Vec<Notice> {
        let mut out = Vec::new();
        let Some(lock) = self.slab[i as usize].as_mut() else {
            return out;
        };
        if let Some(pos) = lock.queue.iter().position(|(x, _)| *x == s) {
            lock.queue.remove(pos);
            if let Some(&(owner, _)) = lock.queue.first() {
                out.push((owner, "locked", lock.name.to_string()));
            }
        } else if let Some(pos) = lock.parked.iter().position(|x| *x == s) {
            lock.parked.swap_remove(pos);
        }
        out
    }

    /// Releases everything a closing session held or waited for: each of
    /// its slots is visited once, and a lock nobody else wants is forgotten.
    pub fn drop_session(&mut self, s: SessionId) -> Vec<Notice> {
        let Some(regs) = self.registered.remove(&s) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for i in regs.slots {
            out.extend(self.leave(i, s));
            self.release_if_unused(i);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: SessionId, m: &'static str) -> Notice {
        (s, m, "a".to_string())
    }

    #[test]
    fn lock_queue_steal_unlock() {
        let mut l = Locks::default();
        assert_eq!(l.acquire("a", 1, LockMode::Wait).unwrap(), (true, vec![]));
        assert_eq!(l.acquire("a", 2, LockMode::Wait).unwrap(), (false, vec![]));
        assert!(l.acquire("a", 2, LockMode::Wait).is_err(), "duplicate lock");
        assert_eq!(l.unlock("a", 1).unwrap(), vec![n(2, "locked")]);
        // 3 steals from 2, which waited normally: 2 waits again behind 3.
        let (got, notes) = l.acquire("a", 3, LockMode::Steal).unwrap();
        assert!(got);
        assert_eq!(notes, vec![n(2, "stolen")]);
        assert_eq!(l.drop_session(3), vec![n(2, "locked")]);
        assert!(l.holds("a", 2));
        assert_eq!(l.unlock("a", 2).unwrap(), vec![]);
        assert_eq!(l.owner("a"), None);
        assert!(l.unlock("a", 2).is_err(), "unlock without lock");
    }

    #[test]
    fn closing_a_session_releases_only_its_own() {
        let mut l = Locks::default();
        for i in 0..1000 {
            l.acquire(&format!("x{i}"), 1, LockMode::Wait).unwrap();
        }
        l.acquire("a", 2, LockMode::Wait).unwrap();
        l.acquire("a", 3, LockMode::Wait).unwrap();
        assert_eq!(l.drop_session(2), vec![n(3, "locked")]);
        assert_eq!(l.registered.len(), 2);
        assert_eq!(l.by_name.len(), 1001);
        assert!(l.drop_session(2).is_empty());
        assert_eq!(l.drop_session(1).len(), 0);
        assert_eq!(l.registered.len(), 1);
        assert_eq!(l.owner("x5"), None);
        // The session may lock again after "unlock" emptied its set.
        l.unlock("a", 3).unwrap();
        assert!(l.registered.is_empty());
        assert_eq!(l.acquire("a", 3, LockMode::Wait).unwrap(), (true, vec![]));
    }

    #[test]
    fn closing_a_registered_but_unqueued_session_tells_no_one() {
        let mut l = Locks::default();
        l.acquire("a", 1, LockMode::Steal).unwrap();
        l.acquire("a", 2, LockMode::Steal).unwrap();
        assert!(l.drop_session(1).is_empty());
        assert!(l.holds("a", 2));
    }

    #[test]
    fn a_stolen_steal_leaves_the_queue_but_stays_registered() {
        let mut l = Locks::default();
        l.acquire("a", 1, LockMode::Steal).unwrap();
        let (_, notes) = l.acquire("a", 2, LockMode::Steal).unwrap();
        assert_eq!(notes, vec![n(1, "stolen")]);
        assert!(l.acquire("a", 1, LockMode::Wait).is_err());
        // 2 lets go: nobody is left in the queue, so no "locked".
        assert_eq!(l.unlock("a", 2).unwrap(), vec![]);
        assert_eq!(l.owner("a"), None);
        assert_eq!(l.unlock("a", 1).unwrap(), vec![]);
    }

    #[test]
    fn unlocked_slots_reused_by_others_survive_a_close() {
        let mut l = Locks::default();
        for i in 0..300 {
            l.acquire(&format!("x{i}"), 1, LockMode::Wait).unwrap();
        }
        // Session 1 lets go of all but x0; the freed slots are taken by
        // session 2's locks, and session 1 registers x1 again.
        for i in 1..300 {
            l.unlock(&format!("x{i}"), 1).unwrap();
        }
        for i in 0..200 {
            l.acquire(&format!("y{i}"), 2, LockMode::Wait).unwrap();
        }
        l.acquire("x1", 1, LockMode::Wait).unwrap();
        l.acquire("y7", 1, LockMode::Wait).unwrap();
        assert!(l.registered[&1].slots.len() < 300, "compacted");
        // Leaving a queue tells its owner "locked" even when the owner
        // stays the same, as OVS does.
        assert_eq!(l.drop_session(1), vec![(2, "locked", "y7".to_string())]);
        assert_eq!(l.owner("x0"), None);
        assert_eq!(l.owner("x1"), None);
        for i in 0..200 {
            assert!(l.holds(&format!("y{i}"), 2));
        }
        assert_eq!(l.drop_session(2).len(), 0);
        assert!(l.by_name.is_empty() && l.registered.is_empty());
        assert!(l.slab.iter().all(Option::is_none));
    }
}
