//! Locks (RFC 7047 section 4.1.8-4.1.10): named locks with one owner and a
//! FIFO queue of waiting sessions.
//!
//! The owner is the front of the queue. Every operation returns which session
//! must be told "locked" or "stolen", so the caller sends notifications
//! after updating state and the lock table never talks to sockets itself.

use std::collections::{HashMap, VecDeque};

pub type SessionId = u64;

#[derive(Debug, Default)]
pub struct Locks {
    map: HashMap<String, VecDeque<SessionId>>,
}

/// A notification to deliver: session and method ("locked"/"stolen").
pub type Notice = (SessionId, &'static str, String);

impl Locks {
    pub fn owner(&self, name: &str) -> Option<SessionId> {
        self.map.get(name).and_then(|q| q.front().copied())
    }

    pub fn holds(&self, name: &str, s: SessionId) -> bool {
        self.owner(name) == Some(s)
    }

    pub fn is_waiting(&self, name: &str, s: SessionId) -> bool {
        self.map.get(name).is_some_and(|q| q.contains(&s))
    }

    /// Requests the lock; returns whether it was granted at once.
    pub fn lock(&mut self, name: &str, s: SessionId) -> bool {
        let q = self.map.entry(name.to_string()).or_default();
        if !q.contains(&s) {
            q.push_back(s);
        }
        q.front() == Some(&s)
    }

    /// Takes the lock; the previous owner (if another session) is dropped
    /// from the queue and must be told "stolen".
    pub fn steal(&mut self, name: &str, s: SessionId) -> Vec<Notice> {
        let q = self.map.entry(name.to_string()).or_default();
        let prev = q.front().copied();
        q.retain(|x| *x != s);
        let mut out = Vec::new();
        if let Some(p) = prev {
            if p != s {
                q.retain(|x| *x != p);
                out.push((p, "stolen", name.to_string()));
            }
        }
        q.push_front(s);
        out
    }

    /// Gives up the lock or the wait; the next waiter, if it became owner,
    /// is told "locked".
    pub fn unlock(&mut self, name: &str, s: SessionId) -> Vec<Notice> {
        let mut out = Vec::new();
        if let Some(q) = self.map.get_mut(name) {
            let was_owner = q.front() == Some(&s);
            q.retain(|x| *x != s);
            if was_owner {
                if let Some(n) = q.front() {
                    out.push((*n, "locked", name.to_string()));
                }
            }
            if q.is_empty() {
                self.map.remove(name);
            }
        }
        out
    }

    /// Releases everything a closing session held or waited for.
    pub fn drop_session(&mut self, s: SessionId) -> Vec<Notice> {
        let names: Vec<String> = self
            .map
            .iter()
            .filter(|(_, q)| q.contains(&s))
            .map(|(n, _)| n.clone())
            .collect();
        names.iter().flat_map(|n| self.unlock(n, s)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_queue_steal_unlock() {
        let mut l = Locks::default();
        assert!(l.lock("a", 1));
        assert!(!l.lock("a", 2));
        assert!(l.holds("a", 1));
        assert_eq!(l.unlock("a", 1), vec![(2, "locked", "a".to_string())]);
        assert_eq!(l.steal("a", 3), vec![(2, "stolen", "a".to_string())]);
        assert!(l.holds("a", 3));
        assert!(l.drop_session(3).is_empty());
        assert_eq!(l.owner("a"), None);
    }
}
