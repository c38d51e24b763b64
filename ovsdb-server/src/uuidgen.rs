//! Fresh random (version 4) UUIDs for rows, row versions and transaction
//! ids, as OVS makes them, and their text form.
//!
//! Every commit needs several; asking the kernel (getrandom(2)) for each
//! costs a system call apiece. Instead each thread keeps rand's ThreadRng,
//! a ChaCha generator seeded from the operating system and reseeded
//! periodically, so a UUID costs a few nanoseconds and stays unpredictable.

use rand::RngCore;
use uuid::Uuid;

/// A new random UUID.
pub fn fresh() -> Uuid {
    let mut b = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut b);
    uuid::Builder::from_random_bytes(b).into_uuid()
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
