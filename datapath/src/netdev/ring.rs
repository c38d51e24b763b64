//! [`Ring`]: a bounded FIFO that moves whole batches with two copies.
//!
//! A fixed array of slots (a power of two) with a head index and a
//! length; the occupied slots are `head .. head + len`, wrapping. Moving
//! `n` items in or out touches at most two contiguous runs of slots, so it
//! is at most two `memcpy`s of pointers (a `DpPacket` is one) instead of a
//! loop of per-item pushes and pops with a capacity check each, which is
//! what a `VecDeque` drained into a `Vec` costs. The ring is not shared by
//! itself: the in-memory netdev keeps each one behind a mutex, locked once
//! per batch.
//!
//! An emptied ring starts again at slot 0, so a queue that is drained on
//! every poll (a PMD keeping up) reuses the same few cache lines of slots
//! instead of streaming through the whole array.
//!
//! Invariants (upheld by every method, relied on by the `unsafe` blocks):
//! `len <= slots.len()`, `head < slots.len()`, and exactly the slots
//! `(head + i) % cap` for `i < len` hold initialized items, each owned by
//! the ring.

use std::mem::MaybeUninit;
use std::ptr;

pub struct Ring<T> {
    slots: Box<[MaybeUninit<T>]>,
    head: usize,
    len: usize,
}

impl<T> Ring<T> {
    /// A ring holding at most `cap` items (rounded up to a power of two,
    /// at least 1).
    pub fn new(cap: usize) -> Ring<T> {
        let cap = cap.max(1).next_power_of_two();
        Ring {
            slots: (0..cap).map(|_| MaybeUninit::uninit()).collect(),
            head: 0,
            len: 0,
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    #[inline]
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }
    /// Free slots.
    #[inline]
    pub fn room(&self) -> usize {
        self.slots.len() - self.len
    }

    #[inline]
    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    /// Appends one item; gives it back when the ring is full.
    pub fn push(&mut self, item: T) -> Result<(), T> {
        if self.room() == 0 {
            return Err(item);
        }
        let at = (self.head + self.len) & self.mask();
        self.slots[at].write(item);
        self.len += 1;
        Ok(())
    }

    /// Removes the first item.
    pub fn pop(&mut self) -> Option<T> {
        if self.len == 0 {
            return None;
        }
        // SAFETY: len > 0, so slot `head` is initialized and owned by the
        // ring; advancing head and shrinking len below hands that
        // ownership to the caller exactly once.
        let item = unsafe { self.slots[self.head].assume_init_read() };
        self.len -= 1;
        self.head = if self.len == 0 {
            0
        } else {
            (self.head + 1) & self.mask()
        };
        Some(item)
    }

    /// Moves up to `n` items from the front of the ring to the end of
    /// `out`, in order. Returns how many were moved.
    pub fn pop_into(&mut self, out: &mut Vec<T>, n: usize) -> usize {
        let n = n.min(self.len);
        if n == 0 {
            return 0;
        }
        out.reserve(n);
        let cap = self.slots.len();
        let first = n.min(cap - self.head);
        let base = self.slots.as_ptr() as *const T;
        // SAFETY: the slots head..head+first and 0..n-first are occupied
        // (n <= len, and the occupied run wraps at cap), `out` has room for
        // n more items after its length (reserved above), and the two
        // regions do not overlap (different allocations). The items are
        // bitwise moved: the ring forgets them by advancing head and
        // shrinking len, `out` owns them after set_len; nothing between
        // the copies and the updates can panic.
        unsafe {
            let dst = out.as_mut_ptr().add(out.len());
            ptr::copy_nonoverlapping(base.add(self.head), dst, first);
            ptr::copy_nonoverlapping(base, dst.add(first), n - first);
            out.set_len(out.len() + n);
        }
        self.len -= n;
        self.head = if self.len == 0 {
            0
        } else {
            (self.head + n) & self.mask()
        };
        n
    }

    /// Moves as many items as fit from the front of `src` to the end of
    /// the ring, in order; the rest stay in `src` (moved to its front).
    /// Returns how many were moved.
    pub fn push_from(&mut self, src: &mut Vec<T>) -> usize {
        let n = src.len().min(self.room());
        if n == 0 {
            return 0;
        }
        let cap = self.slots.len();
        let tail = (self.head + self.len) & self.mask();
        let first = n.min(cap - tail);
        let base = self.slots.as_mut_ptr() as *mut T;
        let rest = src.len() - n;
        // SAFETY: the slots tail..tail+first and 0..n-first are free
        // (n <= room, and the free run wraps at cap); src[..n] are
        // initialized items that the ring takes over (bitwise move), and
        // src[n..] are moved down to src[..rest] (`ptr::copy` allows the
        // overlap) before src's length is set to `rest`, so every item has
        // exactly one owner afterwards. Nothing here can panic.
        unsafe {
            let s = src.as_mut_ptr();
            ptr::copy_nonoverlapping(s, base.add(tail), first);
            ptr::copy_nonoverlapping(s.add(first), base, n - first);
            ptr::copy(s.add(n), s, rest);
            src.set_len(rest);
        }
        self.len += n;
        n
    }

    /// Mutable references to the items, front to back.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        let (mask, head, len) = (self.mask(), self.head, self.len);
        let base = self.slots.as_mut_ptr() as *mut T;
        // SAFETY: each index (head + i) & mask for i < len is a distinct
        // occupied slot, so the references are to initialized items and
        // never alias; they borrow `self` mutably for the iterator's life.
        (0..len).map(move |i| unsafe { &mut *base.add((head + i) & mask) })
    }

    /// Removes every item, front to back.
    pub fn take_all(&mut self) -> Vec<T> {
        let mut v = Vec::with_capacity(self.len);
        self.pop_into(&mut v, self.len);
        v
    }
}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        while self.pop().is_some() {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    #[test]
    fn fifo_across_wraparound_with_bulk_and_single_moves() {
        let mut r = Ring::new(6);
        assert_eq!(r.capacity(), 8);
        let mut next = 0u32;
        let mut want = 0u32;
        for round in 0..200usize {
            // Push a varying amount, part bulk, part single.
            let k = round % 7;
            let mut src: Vec<u32> = (0..k as u32).map(|i| next + i).collect();
            let before = src.len();
            let moved = r.push_from(&mut src);
            assert_eq!(moved, before.min(moved + r.room()));
            assert_eq!(src.len(), before - moved);
            // What did not fit stays in order at the front of src.
            assert!(src
                .iter()
                .enumerate()
                .all(|(i, &v)| v == next + (moved + i) as u32));
            next += moved as u32;
            if round % 3 == 0 && r.push(next).is_ok() {
                next += 1;
            }
            let mut out = vec![u32::MAX];
            let got = r.pop_into(&mut out, round % 5);
            assert_eq!(out.len(), 1 + got);
            for &v in &out[1..] {
                assert_eq!(v, want);
                want += 1;
            }
            if round % 4 == 0 {
                if let Some(v) = r.pop() {
                    assert_eq!(v, want);
                    want += 1;
                }
            }
            for (i, v) in r.iter_mut().enumerate() {
                assert_eq!(*v, want + i as u32);
            }
            assert_eq!(r.len() as u32, next - want);
        }
        let rest = r.take_all();
        assert_eq!(rest, (want..next).collect::<Vec<_>>());
        assert!(r.is_empty());
    }

    #[test]
    fn full_ring_refuses_and_drop_releases_every_item() {
        let tracker = Rc::new(());
        {
            let mut r = Ring::new(4);
            let mut src: Vec<Rc<()>> = (0..6).map(|_| tracker.clone()).collect();
            assert_eq!(r.push_from(&mut src), 4);
            assert_eq!(src.len(), 2);
            assert!(r.push(tracker.clone()).is_err());
            let mut out = Vec::new();
            assert_eq!(r.pop_into(&mut out, 3), 3);
            assert_eq!(r.push_from(&mut src), 2);
            assert!(src.is_empty());
            assert_eq!(Rc::strong_count(&tracker), 1 + 3 + 3);
            drop(out);
            // The ring still holds 3 (wrapped around): dropped with it.
        }
        assert_eq!(Rc::strong_count(&tracker), 1);
    }
}
