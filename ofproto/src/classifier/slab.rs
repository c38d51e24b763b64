//! The rule store: slots in fixed chunks of 1,024, addressed by a `u32`.
//!
//! Rules are large (a full value and mask), so the store never moves
//! them: it grows by one chunk at a time instead of doubling and copying a
//! single vector, which keeps insertion latency flat and memory within one
//! chunk of what is used. Freed slots are reused first.

const CHUNK_BITS: u32 = 10;
const CHUNK: usize = 1 << CHUNK_BITS;

pub(crate) struct Slab<R> {
    chunks: Vec<Box<[Option<R>]>>,
    free: Vec<u32>,
    /// Slots ever handed out (the next fresh slot).
    high: u32,
}

impl<R> Default for Slab<R> {
    fn default() -> Self {
        Slab {
            chunks: Vec::new(),
            free: Vec::new(),
            high: 0,
        }
    }
}

impl<R> Slab<R> {
    #[inline]
    fn at(&self, i: u32) -> &Option<R> {
        &self.chunks[(i >> CHUNK_BITS) as usize][i as usize & (CHUNK - 1)]
    }

    #[inline]
    fn at_mut(&mut self, i: u32) -> &mut Option<R> {
        &mut self.chunks[(i >> CHUNK_BITS) as usize][i as usize & (CHUNK - 1)]
    }

    pub(crate) fn insert(&mut self, r: R) -> u32 {
        let i = match self.free.pop() {
            Some(i) => i,
            None => {
                let i = self.high;
                self.high += 1;
                if i as usize / CHUNK == self.chunks.len() {
                    self.chunks.push((0..CHUNK).map(|_| None).collect());
                }
                i
            }
        };
        *self.at_mut(i) = Some(r);
        i
    }

    pub(crate) fn remove(&mut self, i: u32) -> R {
        let r = self.at_mut(i).take().expect("live slab slot");
        self.free.push(i);
        r
    }

    #[inline]
    pub(crate) fn get(&self, i: u32) -> &R {
        self.at(i).as_ref().expect("live slab slot")
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, i: u32) -> &mut R {
        self.at_mut(i).as_mut().expect("live slab slot")
    }

    /// Every slot number ever used (live or free).
    pub(crate) fn slots(&self) -> u32 {
        self.high
    }

    pub(crate) fn get_opt_mut(&mut self, i: u32) -> Option<&mut R> {
        self.at_mut(i).as_mut()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &R> {
        self.chunks.iter().flat_map(|c| c.iter().flatten())
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut R> {
        self.chunks.iter_mut().flat_map(|c| c.iter_mut().flatten())
    }

    /// Every live value, in slot order (one sequential pass).
    pub(crate) fn into_values(self) -> impl Iterator<Item = R> {
        self.chunks
            .into_iter()
            .flat_map(|c| c.into_vec().into_iter().flatten())
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.chunks.len() * CHUNK * std::mem::size_of::<Option<R>>() + self.free.capacity() * 4
    }
}
