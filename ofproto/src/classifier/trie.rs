//! Prefix trie of one address field, for prefix tracking.
//!
//! A path-compressed binary trie over the CIDR prefixes (value, length)
//! that the classifier's rules match on the field; `n_rules` counts the
//! rules whose prefix ends exactly at a node. A lookup walks the packet's
//! address down the trie once and returns (1) the set of prefix lengths
//! for which some rule's prefix equals the packet's, and (2) how many
//! leading bits of the address that answer depends on. A subtable whose
//! prefix length is not in the set cannot match and is skipped, and only
//! those leading bits go into the megaflow: routes on /16 and /24 leave
//! the host bits wildcarded instead of producing one megaflow per address.
//!
//! Values are left-aligned in a `u128` (bit 127 is the first bit), so
//! 32-bit and 128-bit fields share the code. Nodes live in a `Vec`, freed
//! slots are reused; node 0 is the root, with an empty segment.

const NIL: u32 = u32::MAX;

#[derive(Clone, Debug)]
struct Node {
    /// This node's segment, left-aligned.
    bits: u128,
    /// Length of the segment (0 only for the root).
    len: u8,
    /// Rules whose prefix ends at the end of this segment.
    n_rules: u32,
    child: [u32; 2],
}

impl Node {
    fn is_leaf(&self) -> bool {
        self.child == [NIL, NIL]
    }
}

/// Prefix lengths 1..=128 as a bit set (bit `len - 1`).
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub(crate) struct Plens(u128);

impl Plens {
    pub(crate) fn all() -> Plens {
        Plens(!0)
    }
    fn set(&mut self, len: u32) {
        self.0 |= 1u128 << (len - 1);
    }
    pub(crate) fn contains(&self, len: u32) -> bool {
        len > 0 && self.0 >> (len - 1) & 1 == 1
    }
}

#[derive(Clone, Debug)]
pub(crate) struct PrefixTrie {
    nodes: Vec<Node>,
    free: Vec<u32>,
}

impl Default for PrefixTrie {
    fn default() -> Self {
        PrefixTrie {
            nodes: vec![Node {
                bits: 0,
                len: 0,
                n_rules: 0,
                child: [NIL, NIL],
            }],
            free: Vec::new(),
        }
    }
}

#[inline]
fn bit(v: u128, i: u32) -> usize {
    (v >> (127 - i) & 1) as usize
}

#[inline]
fn shl(v: u128, n: u32) -> u128 {
    if n >= 128 {
        0
    } else {
        v << n
    }
}

/// Leading bits of `a` and `b` that agree, at most `n`.
#[inline]
fn common(a: u128, b: u128, n: u32) -> u32 {
    (a ^ b).leading_zeros().min(n)
}

/// The first `len` bits of `v`, the rest zero.
#[inline]
fn prefix(v: u128, len: u32) -> u128 {
    if len == 0 {
        0
    } else {
        v & (!0u128 << (128 - len))
    }
}

impl PrefixTrie {
    fn alloc(&mut self, n: Node) -> u32 {
        if let Some(i) = self.free.pop() {
            self.nodes[i as usize] = n;
            i
        } else {
            self.nodes.push(n);
            (self.nodes.len() - 1) as u32
        }
    }

    /// Adds one rule with prefix `v/len` (`len` in 1..=128).
    pub(crate) fn insert(&mut self, v: u128, len: u32) {
        let v = prefix(v, len);
        let (mut node, mut depth) = (0usize, 0u32);
        loop {
            if depth == len {
                self.nodes[node].n_rules += 1;
                return;
            }
            let b = bit(v, depth);
            let c = self.nodes[node].child[b];
            let rest = shl(v, depth);
            if c == NIL {
                let leaf = self.alloc(Node {
                    bits: rest,
                    len: (len - depth) as u8,
                    n_rules: 1,
                    child: [NIL, NIL],
                });
                self.nodes[node].child[b] = leaf;
                return;
            }
            let (cbits, clen) = (
                self.nodes[c as usize].bits,
                self.nodes[c as usize].len as u32,
            );
            let eq = common(cbits, rest, clen.min(len - depth));
            if eq < clen {
                // Split `c` after `eq` bits: a new node holds the shared part.
                let mid = self.alloc(Node {
                    bits: prefix(cbits, eq),
                    len: eq as u8,
                    n_rules: 0,
                    child: [NIL, NIL],
                });
                let cn = &mut self.nodes[c as usize];
                cn.bits = shl(cbits, eq);
                cn.len = (clen - eq) as u8;
                let cb = bit(cbits, eq);
                self.nodes[mid as usize].child[cb] = c;
                self.nodes[node].child[b] = mid;
                node = mid as usize;
            } else {
                node = c as usize;
            }
            depth += eq;
        }
    }

    /// Removes one rule with prefix `v/len`; it must have been inserted.
    pub(crate) fn remove(&mut self, v: u128, len: u32) {
        let v = prefix(v, len);
        // Path of (parent, edge bit) down to the node: every node but the
        // root holds at least one bit, so at most 128 edges (no heap).
        let mut path = [(0u32, 0u8); 129];
        let mut n_path = 0usize;
        let (mut node, mut depth) = (0usize, 0u32);
        while depth < len {
            let b = bit(v, depth);
            let c = self.nodes[node].child[b];
            if c == NIL {
                debug_assert!(false, "prefix trie: removing an absent prefix");
                return;
            }
            path[n_path] = (node as u32, b as u8);
            n_path += 1;
            node = c as usize;
            depth += self.nodes[node].len as u32;
        }
        if depth != len || self.nodes[node].n_rules == 0 {
            debug_assert!(false, "prefix trie: removing an absent prefix");
            return;
        }
        self.nodes[node].n_rules -= 1;
        // Restore compression: drop empty leaves, merge single-child chains.
        while node != 0 && self.nodes[node].n_rules == 0 {
            debug_assert!(n_path > 0, "non-root node has a parent");
            n_path -= 1;
            let (parent, b) = (path[n_path].0 as usize, path[n_path].1 as usize);
            let n = &self.nodes[node];
            match n.child {
                [NIL, NIL] => {
                    self.nodes[parent].child[b] = NIL;
                    self.free.push(node as u32);
                    node = parent;
                }
                [c, NIL] | [NIL, c] => {
                    let (bits, len) = (n.bits, n.len as u32);
                    let cn = &mut self.nodes[c as usize];
                    cn.bits = bits | (cn.bits >> len);
                    cn.len += len as u8;
                    self.nodes[parent].child[b] = c;
                    self.free.push(node as u32);
                    break;
                }
                _ => break,
            }
        }
    }

    /// Looks up address `v` of an `n_bits`-wide field: the prefix lengths
    /// that match it, and how many leading bits the answer depends on.
    pub(crate) fn lookup(&self, v: u128, n_bits: u32) -> (Plens, u32) {
        let mut plens = Plens::default();
        let (mut node, mut depth) = (&self.nodes[0], 0u32);
        loop {
            let len = node.len as u32;
            let eq = common(node.bits, shl(v, depth), len);
            depth += eq;
            if eq < len {
                // The bit at `depth` differs from every stored prefix.
                return (plens, depth + 1);
            }
            if node.n_rules > 0 {
                plens.set(depth);
            }
            if depth >= n_bits {
                return (plens, n_bits);
            }
            match node.child[bit(v, depth)] {
                NIL => {
                    // The other branch, if any, is told apart by one more bit.
                    let need = if node.is_leaf() { depth } else { depth + 1 };
                    return (plens, need);
                }
                c => node = &self.nodes[c as usize],
            }
        }
    }

    /// Forgets every prefix (before a rebuild).
    pub(crate) fn clear(&mut self) {
        *self = PrefixTrie::default();
    }

    /// Number of live nodes (for memory accounting).
    pub(crate) fn n_nodes(&self) -> usize {
        self.nodes.len() - self.free.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(a: u32) -> u128 {
        (a as u128) << 96
    }

    /// Naive answer: lengths whose prefix is stored and equals v's.
    fn naive(stored: &[(u128, u32)], v: u128) -> Plens {
        let mut p = Plens::default();
        for &(s, l) in stored {
            if prefix(s, l) == prefix(v, l) {
                p.set(l);
            }
        }
        p
    }

    #[test]
    fn routes_need_only_the_distinguishing_bits() {
        let mut t = PrefixTrie::default();
        t.insert(v4(0xc612_0000), 16); // 198.18.0.0/16
        t.insert(v4(0xc612_0100), 24); // 198.18.1.0/24
        let (p, bits) = t.lookup(v4(0xc612_0205), 32); // 198.18.2.5
        assert!(p.contains(16) && !p.contains(24));
        // 198.18.1 vs 198.18.2: third octets 00000001 / 00000010 differ at bit 22.
        assert_eq!(bits, 23);
        let (p, bits) = t.lookup(v4(0xc612_0105), 32);
        assert!(p.contains(16) && p.contains(24));
        assert_eq!(bits, 24);
        let (p, bits) = t.lookup(v4(0x0a00_0001), 32); // 10.0.0.1
        assert_eq!(p, Plens::default());
        assert_eq!(bits, 1);
    }

    #[test]
    fn empty_trie_needs_no_bits() {
        let t = PrefixTrie::default();
        assert_eq!(t.lookup(v4(1), 32), (Plens::default(), 0));
    }

    #[test]
    fn insert_remove_random_agree_with_naive() {
        // Deterministic pseudo-random prefixes over a small space so that
        // they share prefixes, split and merge nodes.
        let mut x = 0x1234_5678_u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut t = PrefixTrie::default();
        let mut stored: Vec<(u128, u32)> = Vec::new();
        for round in 0..4000 {
            if stored.is_empty() || next() % 3 != 0 {
                let l = (next() % 12 + 1) as u32;
                let v = prefix(v4((next() as u32) & 0xfff0_0000), l);
                t.insert(v, l);
                stored.push((v, l));
            } else {
                let i = (next() as usize) % stored.len();
                let (v, l) = stored.swap_remove(i);
                t.remove(v, l);
            }
            let probe = v4((next() as u32) & 0xfff0_0000);
            let (p, bits) = t.lookup(probe, 32);
            assert_eq!(p, naive(&stored, probe), "round {round}");
            // Any address agreeing on `bits` leading bits gets the same set.
            let other = prefix(probe, bits) | (v4(next() as u32) & !prefix(!0, bits));
            assert_eq!(t.lookup(other, 32).0, p, "round {round}");
        }
        for (v, l) in stored.drain(..) {
            t.remove(v, l);
        }
        assert_eq!(t.n_nodes(), 1);
    }
}
