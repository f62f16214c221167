//! Small utilities shared by the layers above: the hasher of the loop-local task maps.

/// Hashes the keys of the loop-local maps of tasks: task ids, and task metadata addresses
/// divided by their alignment.
///
/// Both are distinct integers that are mostly consecutive for tasks spawned one after another
/// (ids by construction, addresses because the allocator hands out neighbouring blocks), and
/// tasks tend to be spawned, to wait and to finish in that order. hashbrown picks the bucket
/// from the low bits of the hash and a 7-bit tag from the top bits, so the hash keeps the key
/// itself in its low bits (consecutive keys land in neighbouring buckets: the map is walked in
/// order rather than at random, which saves a cache miss per insert and per removal) and puts
/// well-mixed bits in the top seven (distinct tags). The maps are loop-local and their keys are
/// not chosen by untrusted input.
#[derive(Default, Clone, Copy, Debug)]
pub(crate) struct IdHasher(
    /// The hash of the last integer written (the maps' keys are single integers).
    u64,
);

impl IdHasher {
    /// The bits of the hash that hashbrown uses as a bucket's tag.
    const TOP_SEVEN: u64 = 0xFE00_0000_0000_0000;
}

impl std::hash::BuildHasher for IdHasher {
    type Hasher = IdHasher;

    fn build_hasher(&self) -> IdHasher {
        IdHasher(0)
    }
}

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(self.0.rotate_left(8) ^ u64::from(b));
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n ^ (n.wrapping_mul(0x9E37_79B9_7F4A_7C15) & Self::TOP_SEVEN);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::hash::{BuildHasher, Hasher};

    use super::IdHasher;

    fn hash(n: u64) -> u64 {
        IdHasher::default().hash_one(n)
    }

    #[test]
    fn low_bits_are_the_key_itself() {
        for n in [0u64, 1, 2, 1000, 123_456_789, (1 << 57) - 1] {
            assert_eq!(hash(n) & !IdHasher::TOP_SEVEN, n & !IdHasher::TOP_SEVEN);
        }
        // Consecutive keys land in consecutive buckets, whatever the table size.
        for n in 0..1000u64 {
            assert_eq!((hash(n + 1) & 0xFFFF) - (hash(n) & 0xFFFF), 1, "key {n}");
        }
    }

    #[test]
    fn consecutive_keys_get_varied_tags() {
        let tags: HashSet<u64> = (0..1000u64).map(|n| hash(n) >> 57).collect();
        // 128 possible tags; a hasher that left the top bits alone would give one.
        assert!(tags.len() > 100, "only {} distinct tags", tags.len());
    }

    #[test]
    fn usize_and_u64_hash_alike() {
        let mut a = IdHasher::default();
        a.write_usize(42);
        let mut b = IdHasher::default();
        b.write_u64(42);
        assert_eq!(a.finish(), b.finish());
    }

    #[test]
    fn byte_writes_depend_on_every_byte() {
        let of = |bytes: &[u8]| {
            let mut h = IdHasher::default();
            h.write(bytes);
            h.finish()
        };
        assert_ne!(of(&[1, 2, 3]), of(&[1, 2, 4]));
        assert_ne!(of(&[1, 2, 3]), of(&[3, 2, 1]));
    }
}
