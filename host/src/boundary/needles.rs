//! The leak detector's search: every needle (vault values in each encoding,
//! credential-pattern anchors) found in one pass over the input, ignoring
//! ASCII case (the detector confirms case where it matters).
//!
//! Why not one Aho-Corasick automaton: with a thousand random-looking vault
//! values in a dozen encodings each, its DFA has hundreds of thousands of
//! states and random-looking input walks all over it — measured at tens of
//! MB/s. Here a needle of [`LONG`] bytes or more is indexed by a hash of
//! each of its first [`STRIDE`] 8-byte windows (a 256 KiB bit table, then a
//! map of the few candidates), so only every `STRIDE`-th input position is
//! hashed: one of them falls on one of those windows wherever the needle
//! starts. A shorter needle is indexed by a hash of its first 3 bytes (an
//! 8 KiB bit table), tested at every position: with a 2-byte key, a
//! couple of hundred credential anchors (`AKIA`, `ghp_`, `sk-`, `eyJ` ...)
//! matched one position in ten of random-looking text and sent it to the
//! map; with 3 bytes it is about one in five hundred. (A 2-byte needle has
//! a table of its own, checked only when there is one.)
//! Case is folded by setting bit 0x20 of every byte, which lower-cases ASCII
//! letters (and merges some punctuation: that only adds candidates, each of
//! which is compared in full).

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

const MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;
const FOLD: u64 = 0x2020_2020_2020_2020;
/// log2 of the long-needle bit table's size in bits.
const TABLE_BITS: u32 = 21;
/// Input positions hashed: every `STRIDE`-th.
const STRIDE: usize = 4;
/// The shortest needle found through the strided windows.
const LONG: usize = 8 + STRIDE - 1;
/// log2 of the short-needle bit table's size in bits.
const SHORT_BITS: u32 = 16;
const FOLD3: u32 = 0x0020_2020;

/// The needles, indexed for [`NeedleIndex::each`].
pub struct NeedleIndex {
    needles: Vec<Vec<u8>>,
    /// Bit per hash of a folded 8-byte prefix.
    long_bits: Vec<u64>,
    /// Folded window → (needle, the window's offset in it).
    long: HashMap<u64, Vec<(u32, u32)>, BuildHasherDefault<Premixed>>,
    /// Bit per hash of a folded 3-byte prefix.
    short_bits: Vec<u64>,
    short: HashMap<u64, Vec<u32>, BuildHasherDefault<Premixed>>,
    /// Bit per folded 2-byte needle (empty: there are none).
    pair_bits: Vec<u64>,
    pairs: HashMap<u64, Vec<u32>, BuildHasherDefault<Premixed>>,
}

impl std::fmt::Debug for NeedleIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NeedleIndex").field("needles", &self.needles.len()).finish()
    }
}

fn long_slot(folded: u64) -> usize {
    (folded.wrapping_mul(MULTIPLIER) >> (64 - TABLE_BITS)) as usize
}

fn short_slot(folded: u32) -> usize {
    (folded.wrapping_mul(0x9E37_79B1) >> (32 - SHORT_BITS)) as usize
}

/// Three bytes as a number, ASCII case folded.
fn fold3(a: u8, b: u8, c: u8) -> u32 {
    u32::from_le_bytes([a, b, c, 0]) | FOLD3
}

fn has(bits: &[u64], slot: usize) -> bool {
    bits[slot >> 6] >> (slot & 63) & 1 == 1
}

fn set(bits: &mut [u64], slot: usize) {
    bits[slot >> 6] |= 1 << (slot & 63);
}

impl NeedleIndex {
    /// Index `needles` (their position in the list is their id). A needle
    /// of fewer than 2 bytes is never found: it would match almost anything.
    pub fn new(needles: Vec<Vec<u8>>) -> NeedleIndex {
        let mut index = NeedleIndex {
            long_bits: vec![0; 1 << (TABLE_BITS - 6)],
            long: HashMap::default(),
            short_bits: vec![0; 1 << (SHORT_BITS - 6)],
            short: HashMap::default(),
            pair_bits: Vec::new(),
            pairs: HashMap::default(),
            needles: Vec::new(),
        };
        for (id, n) in needles.iter().enumerate() {
            if n.len() >= LONG {
                for offset in 0..STRIDE {
                    let folded = fold(&n[offset..offset + 8]);
                    set(&mut index.long_bits, long_slot(folded));
                    index.long.entry(folded).or_default().push((id as u32, offset as u32));
                }
            } else if n.len() >= 3 {
                let key = fold3(n[0], n[1], n[2]);
                set(&mut index.short_bits, short_slot(key));
                index.short.entry(u64::from(key)).or_default().push(id as u32);
            } else if n.len() == 2 {
                if index.pair_bits.is_empty() {
                    index.pair_bits = vec![0; 1 << 10];
                }
                let pair = u64::from(u16::from_le_bytes([n[0], n[1]]) | 0x2020);
                set(&mut index.pair_bits, pair as usize);
                index.pairs.entry(pair).or_default().push(id as u32);
            }
        }
        index.needles = needles;
        index
    }

    /// The needle `id`.
    pub fn needle(&self, id: usize) -> &[u8] {
        &self.needles[id]
    }

    /// Call `on(id, start)` for every needle found at `start` (equal but
    /// for ASCII case), until it returns false. Starts come in order but
    /// for long needles, which may come up to `STRIDE - 1` bytes late.
    pub fn each(&self, input: &[u8], mut on: impl FnMut(usize, usize) -> bool) {
        let mut found = |id: u32, at: usize| -> bool {
            let n = &self.needles[id as usize];
            !input.get(at..at + n.len()).is_some_and(|s| s.eq_ignore_ascii_case(n)) || on(id as usize, at)
        };
        let pairs = !self.pair_bits.is_empty();
        for at in 0..input.len().saturating_sub(1) {
            if pairs {
                let pair = u64::from(u16::from_le_bytes([input[at], input[at + 1]]) | 0x2020);
                if has(&self.pair_bits, pair as usize) {
                    for &id in self.pairs.get(&pair).into_iter().flatten() {
                        if !found(id, at) {
                            return;
                        }
                    }
                }
            }
            if let Some(&third) = input.get(at + 2) {
                let key = fold3(input[at], input[at + 1], third);
                if has(&self.short_bits, short_slot(key)) {
                    for &id in self.short.get(&u64::from(key)).into_iter().flatten() {
                        if !found(id, at) {
                            return;
                        }
                    }
                }
            }
            if at % STRIDE == 0
                && let Some(window) = input.get(at..at + 8)
            {
                let folded = fold(window);
                if has(&self.long_bits, long_slot(folded)) {
                    for &(id, offset) in self.long.get(&folded).into_iter().flatten() {
                        if let Some(start) = at.checked_sub(offset as usize)
                            && !found(id, start)
                        {
                            return;
                        }
                    }
                }
            }
        }
    }
}

/// Eight bytes as a number, ASCII case folded.
fn fold(window: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(window);
    u64::from_le_bytes(bytes) | FOLD
}

/// The maps' keys are folded prefixes; mixing them once is hash enough.
#[derive(Default)]
struct Premixed(u64);

impl std::hash::Hasher for Premixed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(MULTIPLIER);
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = v.wrapping_mul(MULTIPLIER);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(index: &NeedleIndex, input: &[u8]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        index.each(input, |id, at| {
            out.push((id, at));
            true
        });
        out.sort_by_key(|&(id, at)| (at, id));
        out
    }

    #[test]
    fn every_needle_is_found_at_every_place_in_any_case_overlapping() {
        let index = NeedleIndex::new(vec![
            b"0123456789abcdef".to_vec(),
            b"0123456789".to_vec(),
            b"AC".to_vec(),
            b"sk-".to_vec(),
            b"x".to_vec(),
        ]);
        // Long and short needles, overlapping, in another case, at the very end.
        let input = b"..0123456789ABCDEF..ac..SK-..0123456789";
        assert_eq!(found(&index, input), vec![(0, 2), (1, 2), (2, 20), (3, 24), (1, 29)]);
        assert_eq!(found(&index, b"ac"), vec![(2, 0)], "a 2-byte input");
        assert_eq!(found(&index, b"0123456789abcde"), vec![(1, 0)], "the long needle cut short is not found");
        assert!(found(&index, b"x").is_empty() && found(&index, b"").is_empty());
        assert_eq!(found(&index, b"--Sk-"), vec![(3, 2)], "a 3-byte needle ending the input");
        assert!(found(&index, b"--sk").is_empty(), "cut short, not found");
    }

    #[test]
    fn a_long_needle_is_found_once_at_every_alignment() {
        let index = NeedleIndex::new(vec![b"abcdefghijklmnop".to_vec(), b"zzzzzzzzzzzz".to_vec()]);
        for at in 0..12 {
            let input = format!("{}ABCDEFGHIJKLMNOP{}", "-".repeat(at), "-".repeat(at % 3));
            assert_eq!(found(&index, input.as_bytes()), vec![(0, at)], "{input}");
        }
        // Overlapping occurrences of a needle with repeated windows.
        assert_eq!(found(&index, b"zzzzzzzzzzzzz"), vec![(1, 0), (1, 1)]);
    }

    #[test]
    fn the_search_stops_when_asked() {
        let index = NeedleIndex::new(vec![b"ab".to_vec()]);
        let mut n = 0;
        index.each(b"ab ab ab", |_, _| {
            n += 1;
            n < 2
        });
        assert_eq!(n, 2);
    }
}
