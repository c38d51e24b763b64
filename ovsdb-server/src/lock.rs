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
//! Registrations are kept per session, so closing a session visits only
//! its own locks, however many other sessions hold.

use crate::error::{OvsdbError, Result};
use std::collections::{HashMap, HashSet, VecDeque};

pub type SessionId = u64;

/// How a waiter asked for its lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    Wait,
    Steal,
}

#[derive(Debug, Default)]
pub struct Locks {
    queues: HashMap<String, VecDeque<(SessionId, LockMode)>>,
    /// Per session, every lock name it has a waiter for, in a queue or not.
    registered: HashMap<SessionId, HashSet<String>>,
}

/// A notification to deliver: session, method ("locked"/"stolen"), lock.
pub type Notice = (SessionId, &'static str, String);

impl Locks {
    pub fn owner(&self, name: &str) -> Option<SessionId> {
        self.queues
            .get(name)
            .and_then(|q| q.front())
            .map(|(s, _)| *s)
    }

    pub fn holds(&self, name: &str, s: SessionId) -> bool {
        self.owner(name) == Some(s)
    }

    /// "lock" or "steal": returns whether `s` owns the lock now, and the
    /// notifications to send.
    pub fn acquire(
        &mut self,
        name: &str,
        s: SessionId,
        mode: LockMode,
    ) -> Result<(bool, Vec<Notice>)> {
        let mine = self.registered.entry(s).or_default();
        if mine.contains(name) {
            let method = match mode {
                LockMode::Wait => "lock",
                LockMode::Steal => "steal",
            };
            return Err(OvsdbError::syntax(format!(
                "must issue \"unlock\" before new \"{method}\""
            )));
        }
        mine.insert(name.to_string());
        let q = self.queues.entry(name.to_string()).or_default();
        let mut out = Vec::new();
        match mode {
            LockMode::Wait => q.push_back((s, mode)),
            LockMode::Steal => {
                if let Some(&(victim, victim_mode)) = q.front() {
                    if victim_mode == LockMode::Steal {
                        q.pop_front();
                    }
                    out.push((victim, "stolen", name.to_string()));
                }
                q.push_front((s, mode));
            }
        }
        Ok((self.holds(name, s), out))
    }

    /// "unlock": removes the session's waiter for `name`.
    pub fn unlock(&mut self, name: &str, s: SessionId) -> Result<Vec<Notice>> {
        let removed = match self.registered.get_mut(&s) {
            Some(mine) => {
                let r = mine.remove(name);
                if mine.is_empty() {
                    self.registered.remove(&s);
                }
                r
            }
            None => false,
        };
        if !removed {
            return Err(OvsdbError::syntax(
                "unlock: \"unlock\" without \"lock\" or \"steal\"",
            ));
        }
        Ok(self.leave_queue(name, s))
    }

    /// Takes session `s` out of the queue of `name` (if it is in it).
    fn leave_queue(&mut self, name: &str, s: SessionId) -> Vec<Notice> {
        let mut out = Vec::new();
        if let Some(q) = self.queues.get_mut(name) {
            if let Some(pos) = q.iter().position(|(x, _)| *x == s) {
                q.remove(pos);
                match q.front() {
                    Some(&(owner, _)) => out.push((owner, "locked", name.to_string())),
                    None => {
                        self.queues.remove(name);
                    }
                }
            }
        }
        out
    }

    /// Releases everything a closing session held or waited for. Each of
    /// its locks is looked up once: its queue is taken out of the table
    /// and put back only if other sessions still wait in it.
    pub fn drop_session(&mut self, s: SessionId) -> Vec<Notice> {
        let Some(names) = self.registered.remove(&s) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for name in names {
            let Some(mut q) = self.queues.remove(&name) else {
                continue;
            };
            let left = match q.iter().position(|(x, _)| *x == s) {
                Some(pos) => {
                    q.remove(pos);
                    true
                }
                None => false,
            };
            if let Some(&(owner, _)) = q.front() {
                if left {
                    out.push((owner, "locked", name.clone()));
                }
                self.queues.insert(name, q);
            }
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
}
