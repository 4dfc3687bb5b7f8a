//! Tensors as real bytes, the test data collectives carry, and the framing
//! of tensor chunks on a stream.
//!
//! Every rank's input is integer-valued: element `i` of rank `r` is
//! `(i + 3r) mod m`, with `m` small enough that the sum over all ranks stays
//! an integer the element type holds exactly (2^24 for f32, 2^8 for bf16).
//! So a reduction is exact in any order, and every rank can check its
//! result element by element against the known sum.

use bytes::{Buf, BufMut, BytesMut};
use orbnet_netem::workload::DType;

/// The modulus of rank inputs for `ranks` ranks of `dtype`.
pub(crate) fn modulus(dtype: DType, ranks: usize) -> u64 {
    (dtype.exact_integers() / ranks.max(1) as u64).clamp(1, 1024)
}

/// Element `i` of rank `r`'s input.
pub(crate) fn value(dtype: DType, ranks: usize, r: usize, i: u64) -> f32 {
    ((i + 3 * r as u64) % modulus(dtype, ranks)) as f32
}

/// Writes one element (the tests build expected data with it).
#[cfg(test)]
fn put(dtype: DType, out: &mut [u8], v: f32) {
    match dtype {
        DType::F32 => out.copy_from_slice(&v.to_le_bytes()),
        DType::Bf16 => out.copy_from_slice(&to_bf16(v).to_le_bytes()),
    }
}

fn get(dtype: DType, b: &[u8]) -> f32 {
    match dtype {
        DType::F32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        DType::Bf16 => from_bf16(u16::from_le_bytes([b[0], b[1]])),
    }
}

/// f32 to bfloat16, rounding to nearest, ties to even (the upper 16 bits
/// of the f32 with the lower 16 rounded in).
pub(crate) fn to_bf16(v: f32) -> u16 {
    let b = v.to_bits();
    let round = 0x7fff + ((b >> 16) & 1);
    (b.wrapping_add(round) >> 16) as u16
}

/// bfloat16 to f32 (exact).
pub(crate) fn from_bf16(h: u16) -> f32 {
    f32::from_bits(u32::from(h) << 16)
}

/// Rank `r`'s input elements `[first, first + count)`: [`value`], counted
/// up modulo m for the first period, then that period copied on (the
/// input repeats every m elements), so a large input costs a memory copy
/// rather than an element-by-element encode.
pub(crate) fn input(dtype: DType, ranks: usize, r: usize, first: u64, count: usize) -> BytesMut {
    let m = modulus(dtype, ranks);
    let mut v = (first + 3 * r as u64) % m;
    let size = dtype.size();
    let total = count * size;
    let mut out = BytesMut::with_capacity(total);
    for _ in 0..count.min(m as usize) {
        let x = v as f32;
        v = if v + 1 == m { 0 } else { v + 1 };
        match dtype {
            DType::F32 => out.extend_from_slice(&x.to_le_bytes()),
            DType::Bf16 => out.extend_from_slice(&to_bf16(x).to_le_bytes()),
        }
    }
    // Whole periods so far: copying them on keeps the sequence's phase.
    let period = out.len();
    while out.len() < total {
        let whole = out.len() - out.len() % period;
        out.extend_from_within(..whole.min(total - out.len()));
    }
    out
}

/// Adds `other` into `acc`, element by element.
pub(crate) fn reduce_into(dtype: DType, acc: &mut [u8], other: &[u8]) {
    match dtype {
        DType::F32 => {
            for (a, b) in acc
                .as_chunks_mut::<4>()
                .0
                .iter_mut()
                .zip(other.as_chunks::<4>().0)
            {
                *a = (f32::from_le_bytes(*a) + f32::from_le_bytes(*b)).to_le_bytes();
            }
        }
        DType::Bf16 => {
            for (a, b) in acc
                .as_chunks_mut::<2>()
                .0
                .iter_mut()
                .zip(other.as_chunks::<2>().0)
            {
                let s = from_bf16(u16::from_le_bytes(*a)) + from_bf16(u16::from_le_bytes(*b));
                *a = to_bf16(s).to_le_bytes();
            }
        }
    }
}

/// The first element of `data` (elements from `first` on) that differs
/// from `expect(i)`.
pub(crate) fn first_mismatch(
    dtype: DType,
    data: &[u8],
    first: u64,
    expect: impl Fn(u64) -> f32,
) -> Option<u64> {
    data.chunks_exact(dtype.size())
        .enumerate()
        .map(|(k, e)| (first + k as u64, get(dtype, e)))
        .find(|&(i, v)| v != expect(i))
        .map(|(i, _)| i)
}

/// The sum over all ranks of element `i`, from a table over one period.
#[derive(Debug)]
pub(crate) struct Sums {
    period: Vec<f32>,
    /// `period` encoded as f32 and as bf16.
    f32_bytes: Vec<u8>,
    bf16_bytes: Vec<u8>,
}

impl Sums {
    pub(crate) fn new(dtype: DType, ranks: usize) -> Sums {
        let m = modulus(dtype, ranks);
        let period: Vec<f32> = (0..m)
            .map(|i| (0..ranks).map(|r| value(dtype, ranks, r, i)).sum())
            .collect();
        Sums {
            f32_bytes: period.iter().flat_map(|v| v.to_le_bytes()).collect(),
            bf16_bytes: period
                .iter()
                .flat_map(|v| to_bf16(*v).to_le_bytes())
                .collect(),
            period,
        }
    }

    #[cfg(test)]
    fn at(&self, i: u64) -> f32 {
        self.period[(i % self.period.len() as u64) as usize]
    }

    /// The first element of `data` (elements from `first` on) that differs
    /// from its sum. The sums repeat every period, so `data` is compared a
    /// period's bytes at a time against the encoded period, and only a
    /// stretch whose bytes differ is walked element by element (by value:
    /// bytes may differ where values do not, as 0.0 and -0.0 do).
    pub(crate) fn first_mismatch(&self, dtype: DType, data: &[u8], first: u64) -> Option<u64> {
        let size = dtype.size();
        let m = self.period.len();
        let encoded = self.encoded(dtype);
        let mut at = 0;
        let mut phase = (first % m as u64) as usize;
        while at + size <= data.len() {
            let want = &encoded[phase * size..];
            let n = want.len().min(data.len() - at) / size * size;
            let got = &data[at..at + n];
            if got != &want[..n] {
                let expect = self.period[phase..].iter();
                if let Some(k) = got
                    .chunks_exact(size)
                    .zip(expect)
                    .position(|(e, &x)| get(dtype, e) != x)
                {
                    return Some(first + (at / size + k) as u64);
                }
            }
            at += n;
            phase = 0;
        }
        None
    }

    /// The period's sums as `dtype` bytes.
    fn encoded(&self, dtype: DType) -> &[u8] {
        match dtype {
            DType::F32 => &self.f32_bytes,
            DType::Bf16 => &self.bf16_bytes,
        }
    }
}

/// Element range `[first, end)` of part `k` of `n` elements cut into `p`
/// nearly equal parts.
pub(crate) fn part(n: u64, p: usize, k: usize) -> (u64, u64) {
    let (p, k) = (p as u64, k as u64);
    (n * k / p, n * (k + 1) / p)
}

/// What starts every tensor chunk on a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ChunkHeader {
    /// Which collective call (unique per workload and rank pair).
    pub collective: u64,
    /// The algorithm's step within the call.
    pub step: u32,
    /// Byte offset of the chunk within the tensor it belongs to.
    pub offset: u64,
    /// Bytes that follow.
    pub len: u64,
}

/// Why a chunk header was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum ChunkError {
    #[error("chunk header truncated ({0} bytes)")]
    Truncated(usize),
    #[error("not a tensor chunk (magic {0:#010x})")]
    Magic(u32),
    #[error("chunk of {0} bytes exceeds the limit")]
    TooLong(u64),
}

impl ChunkHeader {
    pub(crate) const MAGIC: u32 = 0x6f72_6274; // "orbt"
    pub(crate) const LEN: usize = 32;
    /// Largest chunk a receiver accepts (a whole collective buffer).
    pub(crate) const MAX_LEN: u64 = 1 << 30;

    pub(crate) fn encode(&self) -> [u8; Self::LEN] {
        let mut b = BytesMut::with_capacity(Self::LEN);
        b.put_u32(Self::MAGIC);
        b.put_u64(self.collective);
        b.put_u32(self.step);
        b.put_u64(self.offset);
        b.put_u64(self.len);
        let mut out = [0u8; Self::LEN];
        out.copy_from_slice(&b);
        out
    }

    pub(crate) fn decode(mut b: &[u8]) -> Result<ChunkHeader, ChunkError> {
        if b.len() < Self::LEN {
            return Err(ChunkError::Truncated(b.len()));
        }
        let magic = b.get_u32();
        if magic != Self::MAGIC {
            return Err(ChunkError::Magic(magic));
        }
        let h = ChunkHeader {
            collective: b.get_u64(),
            step: b.get_u32(),
            offset: b.get_u64(),
            len: b.get_u64(),
        };
        if h.len > Self::MAX_LEN {
            return Err(ChunkError::TooLong(h.len));
        }
        Ok(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bf16_round_trips_small_integers_and_rounds_to_even() {
        for i in 0..=256u32 {
            let v = i as f32;
            assert_eq!(from_bf16(to_bf16(v)), v);
        }
        // 257 lies halfway between 256 and 258 in bf16: ties go to even (256).
        assert_eq!(from_bf16(to_bf16(257.0)), 256.0);
        assert_eq!(from_bf16(to_bf16(259.0)), 260.0);
        // Known bit patterns: 1.0 is 0x3f80 and -2.0 is 0xc000.
        assert_eq!(to_bf16(1.0), 0x3f80);
        assert_eq!(to_bf16(-2.0), 0xc000);
    }

    #[test]
    fn reductions_are_exact_and_checked() {
        for dtype in [DType::F32, DType::Bf16] {
            let p = 81;
            let n = 1000;
            let mut acc = input(dtype, p, 0, 0, n);
            for r in 1..p {
                reduce_into(dtype, &mut acc, &input(dtype, p, r, 0, n));
            }
            let sums = Sums::new(dtype, p);
            // Against a direct sum, computed here in u64.
            for i in 0..n as u64 {
                let direct: u64 = (0..p as u64).map(|r| (i + 3 * r) % modulus(dtype, p)).sum();
                assert_eq!(sums.at(i), direct as f32);
            }
            assert_eq!(first_mismatch(dtype, &acc, 0, |i| sums.at(i)), None);
            assert_eq!(sums.first_mismatch(dtype, &acc, 0), None);
            // From an offset past a period, the walk agrees with `at`.
            let late = input(dtype, 1, 0, 0, 1);
            let first = 3 * modulus(dtype, p) + 5;
            let mut tail = BytesMut::new();
            for i in first..first + 300 {
                let mut e = late.clone();
                put(dtype, &mut e, sums.at(i));
                tail.extend_from_slice(&e);
            }
            assert_eq!(sums.first_mismatch(dtype, &tail, first), None);
            assert_eq!(
                sums.first_mismatch(dtype, &tail, first + 1),
                Some(first + 1)
            );
            acc[8] ^= 0x40;
            let bad = 8 / dtype.size() as u64;
            assert_eq!(first_mismatch(dtype, &acc, 0, |i| sums.at(i)), Some(bad));
            assert_eq!(sums.first_mismatch(dtype, &acc, 0), Some(bad));
        }
    }

    #[test]
    fn inputs_are_their_values_at_any_offset() {
        for dtype in [DType::F32, DType::Bf16] {
            let (p, r) = (12, 5);
            let m = modulus(dtype, p);
            for first in [0, 1, m - 2, 7 * m + 3] {
                let data = input(dtype, p, r, first, 2 * m as usize + 9);
                let expect = |i| value(dtype, p, r, i);
                assert_eq!(first_mismatch(dtype, &data, first, expect), None);
            }
        }
    }

    /// The period-at-a-time check finds what an element-by-element walk
    /// finds, wherever the data starts and wherever the fault lies, and
    /// lets through what differs in bytes but not in value.
    #[test]
    fn the_fast_check_agrees_with_the_walk() {
        for dtype in [DType::F32, DType::Bf16] {
            let p = 8;
            let (m, size) = (modulus(dtype, p), dtype.size());
            let sums = Sums::new(dtype, p);
            for first in [0, 5, m - 1, 9 * m + 7] {
                let n = 5 * m as usize + 3;
                let mut acc = input(dtype, p, 0, first, n);
                for r in 1..p {
                    reduce_into(dtype, &mut acc, &input(dtype, p, r, first, n));
                }
                assert_eq!(sums.first_mismatch(dtype, &acc, first), None);
                for bad in [0, m as usize - 1, 3 * m as usize + 2, n - 1] {
                    let mut wrong = acc.clone();
                    wrong[bad * size + size - 1] ^= 0x01;
                    let walk = first_mismatch(dtype, &wrong, first, |i| sums.at(i));
                    assert_eq!(walk, Some(first + bad as u64));
                    assert_eq!(sums.first_mismatch(dtype, &wrong, first), walk);
                }
            }
            // One rank's sum of element 0 is 0; written as -0.0 it has
            // other bytes and the same value.
            let one = Sums::new(dtype, 1);
            let mut zero = input(dtype, 1, 0, 0, 2);
            assert_eq!(one.first_mismatch(dtype, &zero, 0), None);
            put(dtype, &mut zero[..size], -0.0);
            assert_ne!(zero, input(dtype, 1, 0, 0, 2));
            assert_eq!(one.first_mismatch(dtype, &zero, 0), None);
        }
    }

    #[test]
    fn parts_cover_the_buffer() {
        let n = 1001;
        let mut at = 0;
        for k in 0..7 {
            let (a, b) = part(n, 7, k);
            assert_eq!(a, at);
            at = b;
        }
        assert_eq!(at, n);
    }

    #[test]
    fn chunk_headers_round_trip_and_refuse_garbage() {
        let h = ChunkHeader {
            collective: 7,
            step: 3,
            offset: 4096,
            len: 1 << 20,
        };
        assert_eq!(ChunkHeader::decode(&h.encode()), Ok(h));
        assert_eq!(
            ChunkHeader::decode(&h.encode()[..10]),
            Err(ChunkError::Truncated(10))
        );
        let mut bad = h.encode();
        bad[0] = 0;
        assert!(matches!(
            ChunkHeader::decode(&bad),
            Err(ChunkError::Magic(_))
        ));
        let long = ChunkHeader { len: u64::MAX, ..h };
        assert!(matches!(
            ChunkHeader::decode(&long.encode()),
            Err(ChunkError::TooLong(_))
        ));
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            /// Every header a sender can write reads back as itself, and
            /// whatever follows it is left for the chunk.
            #[test]
            fn chunk_headers_round_trip(
                collective in any::<u64>(),
                step in any::<u32>(),
                offset in any::<u64>(),
                len in 0..=ChunkHeader::MAX_LEN,
                tail in prop::collection::vec(any::<u8>(), 0..64),
            ) {
                let h = ChunkHeader { collective, step, offset, len };
                let mut bytes = h.encode().to_vec();
                prop_assert_eq!(bytes.len(), ChunkHeader::LEN);
                bytes.extend_from_slice(&tail);
                prop_assert_eq!(ChunkHeader::decode(&bytes), Ok(h));
            }

            /// Any bytes decode to a header or to an error, never a panic;
            /// a header that decodes is within the limit and encodes back
            /// to the bytes it came from.
            #[test]
            fn arbitrary_bytes_decode_or_are_refused(bytes in prop::collection::vec(any::<u8>(), 0..80)) {
                match ChunkHeader::decode(&bytes) {
                    Ok(h) => {
                        prop_assert!(h.len <= ChunkHeader::MAX_LEN);
                        prop_assert_eq!(&h.encode()[..], &bytes[..ChunkHeader::LEN]);
                    }
                    Err(ChunkError::Truncated(n)) => prop_assert!(n < ChunkHeader::LEN && n == bytes.len()),
                    Err(ChunkError::Magic(m)) => prop_assert_ne!(m, ChunkHeader::MAGIC),
                    Err(ChunkError::TooLong(l)) => prop_assert!(l > ChunkHeader::MAX_LEN),
                }
            }
        }
    }
}
