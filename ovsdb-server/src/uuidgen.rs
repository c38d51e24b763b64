//! Fresh random (version 4) UUIDs for rows, row versions and transaction
//! ids, as OVS makes them, and their text form.
//!
//! Every commit needs several; asking the kernel (getrandom(2)) for each
//! costs a system call apiece. Instead each thread keeps rand's ThreadRng,
//! a ChaCha generator seeded from the operating system and reseeded
//! periodically, so a UUID costs a few nanoseconds and stays unpredictable.

use rand::RngCore;
use uuid::Uuid;

thread_local! {
    /// A seeded generator that replaces ThreadRng on this thread (see `seed`).
    static SEEDED: std::cell::RefCell<Option<rand::rngs::StdRng>> =
        const { std::cell::RefCell::new(None) };
}

/// A new random UUID.
pub fn fresh() -> Uuid {
    let mut b = [0u8; 16];
    let seeded = SEEDED.with(|s| match &mut *s.borrow_mut() {
        Some(r) => {
            r.fill_bytes(&mut b);
            true
        }
        None => false,
    });
    if !seeded {
        rand::thread_rng().fill_bytes(&mut b);
    }
    uuid::Builder::from_random_bytes(b).into_uuid()
}

/// Makes this thread's UUIDs a fixed sequence from `seed` (None: random
/// again). Only for differential tests that run the same transaction two
/// ways and compare every UUID they make.
pub fn seed(seed: Option<u64>) {
    use rand::SeedableRng;
    SEEDED.with(|s| *s.borrow_mut() = seed.map(rand::rngs::StdRng::seed_from_u64));
}

/// The usual text form (lowercase, hyphenated), without the formatting
/// machinery that `to_string` goes through.
pub fn text(u: &Uuid) -> String {
    let mut b = [0u8; uuid::fmt::Hyphenated::LENGTH];
    u.hyphenated().encode_lower(&mut b).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_4_and_distinct() {
        let a = fresh();
        let b = fresh();
        assert_ne!(a, b);
        assert_eq!(a.get_version_num(), 4);
        assert_eq!(a.get_variant(), uuid::Variant::RFC4122);
        assert_eq!(text(&a), a.hyphenated().to_string());
    }
}
