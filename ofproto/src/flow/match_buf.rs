//! `MatchBuf`: a canonical match on the heap whose allocation is reused.
//!
//! A flow-mod request moves from step to step (results, the request, the
//! insertion), and its 1.4 KB `OfMatch` moved along was copied about ten
//! times per flow-mod. Boxed, it stays put; but a fresh 1.4 KB allocation
//! per flow-mod, freed right after, interleaves with the rules' own
//! long-lived allocations and fragments the heap (8 MB more RSS at 100,000
//! rules). So each thread keeps one spare: dropping a `MatchBuf` gives its
//! box back to the thread's one-slot spare, the next `MatchBuf` takes it,
//! and a flow-mod stream allocates no match at all.

use std::cell::Cell;
use std::ops::{Deref, DerefMut};

use ferrovs_openflow::Match;

use super::{OfMatch, PlaceError, TlvMap};

thread_local! {
    static SPARE: Cell<Option<Box<OfMatch>>> = const { Cell::new(None) };
}

/// An `OfMatch` in a reused heap allocation (always `Some` until dropped).
pub struct MatchBuf(Option<Box<OfMatch>>);

impl MatchBuf {
    /// Holds `om` (in the thread's spare allocation if there is one).
    pub fn new(om: OfMatch) -> MatchBuf {
        match SPARE.with(Cell::take) {
            Some(mut b) => {
                *b = om;
                MatchBuf(Some(b))
            }
            None => MatchBuf(Some(Box::new(om))),
        }
    }

    /// [`OfMatch::from_match_tlv`], built in place.
    pub fn from_match_tlv(m: &Match, tlv: &TlvMap) -> Result<MatchBuf, PlaceError> {
        let mut b = MatchBuf::new(OfMatch::default());
        b.place_fields(m, tlv)?;
        Ok(b)
    }
}

impl Deref for MatchBuf {
    type Target = OfMatch;
    fn deref(&self) -> &OfMatch {
        match &self.0 {
            Some(b) => b,
            None => unreachable!("a MatchBuf holds its box until dropped"),
        }
    }
}

impl DerefMut for MatchBuf {
    fn deref_mut(&mut self) -> &mut OfMatch {
        match &mut self.0 {
            Some(b) => b,
            None => unreachable!("a MatchBuf holds its box until dropped"),
        }
    }
}

impl Drop for MatchBuf {
    fn drop(&mut self) {
        if let Some(b) = self.0.take() {
            // During thread teardown the slot may be gone: the box is
            // then simply freed.
            let _ = SPARE.try_with(|s| s.set(Some(b)));
        }
    }
}

impl Clone for MatchBuf {
    fn clone(&self) -> MatchBuf {
        MatchBuf::new(**self)
    }
}

impl std::fmt::Debug for MatchBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dropped buffer's allocation serves the next one, which starts
    /// from what it is given (nothing of the old match left).
    #[test]
    fn reuses_the_allocation() {
        let mut om = OfMatch::default();
        om.value.0[0] = 7;
        om.mask.0[0] = 0xff;
        let a = MatchBuf::new(om);
        let p = std::ptr::from_ref::<OfMatch>(&a);
        assert_eq!(*a, om);
        drop(a);
        let b = MatchBuf::from_match_tlv(&Match::new(), &TlvMap::EMPTY).unwrap();
        assert_eq!(std::ptr::from_ref::<OfMatch>(&b), p);
        assert_eq!(*b, OfMatch::catchall());
        let c = b.clone();
        assert_ne!(std::ptr::from_ref::<OfMatch>(&c), p);
        assert_eq!(*c, *b);
    }
}
