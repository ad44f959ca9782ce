//! Embedders: text to L2-normalised vectors.
//!
//! The offline default needs no network: it hashes words, word pairs and
//! character trigrams into 256 dimensions (signed feature hashing). Expect
//! lexical similarity — shared words, stems, typos and word order help —
//! but no semantics: "car" does not find "automobile". Configure an
//! OpenAI-compatible endpoint for semantic recall.

/// The offline embedder's dimension.
pub const OFFLINE_DIMS: usize = 256;

/// The offline embedder's id, stored beside each vector it made.
pub const OFFLINE_ID: &str = "offline-hash-v1-256";

fn fnv1a(bytes: &[u8], seed: u64) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn add(v: &mut [f32], feature: &[u8], weight: f32) {
    let h = fnv1a(feature, 0x51_7cc1_b727_220a);
    let index = (h % v.len() as u64) as usize;
    let sign = if (h >> 63) == 1 { -1.0 } else { 1.0 };
    v[index] += sign * weight;
}

/// L2-normalise in place (a zero vector stays zero).
pub fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// Embed with the offline embedder.
pub fn offline(text: &str) -> Vec<f32> {
    let mut v = vec![0.0f32; OFFLINE_DIMS];
    let words: Vec<String> =
        text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect();
    for (i, w) in words.iter().enumerate() {
        add(&mut v, w.as_bytes(), 1.0);
        if let Some(next) = words.get(i + 1) {
            add(&mut v, format!("{w} {next}").as_bytes(), 0.5);
        }
        let padded: Vec<char> = format!("^{w}$").chars().collect();
        for t in padded.windows(3) {
            let tri: String = t.iter().collect();
            add(&mut v, tri.as_bytes(), 0.25);
        }
    }
    normalize(&mut v);
    v
}

/// Cosine similarity of two L2-normalised vectors.
///
/// Eight independent accumulators let the compiler use SIMD lanes (a
/// single running sum must be added in order, one element at a time).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for ((s, x), y) in acc.iter_mut().zip(x).zip(y) {
            *s += x * y;
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Vectors as little-endian f32 bytes (SQLite storage).
pub fn to_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Bytes back to a vector.
pub fn from_bytes(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similar_text_is_closer_than_unrelated_text() {
        let a = offline("The deployment pipeline builds the container image");
        let b = offline("our pipeline for deployment builds images of containers");
        let c = offline("a recipe for lemon cake with sugar");
        assert!(dot(&a, &b) > dot(&a, &c) + 0.2, "{} vs {}", dot(&a, &b), dot(&a, &c));
        assert!((dot(&a, &a) - 1.0).abs() < 1e-5);
        assert_eq!(offline("same text"), offline("same text"), "deterministic");
        assert_eq!(from_bytes(&to_bytes(&a)), a);
        let odd: Vec<f32> = (0..13).map(|i| i as f32).collect();
        assert_eq!(dot(&odd, &odd), (0..13).map(|i| (i * i) as f32).sum::<f32>());
    }
}
