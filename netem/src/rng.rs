//! Seeded randomness: every random draw comes from a stream named by the
//! scenario seed, a domain and an id (a link, a satellite), so runs repeat
//! exactly and streams do not depend on the order they are created in.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Domains of random streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum Domain {
    /// Loss on one direction of a link: id = link id × 2 + direction.
    LinkLoss = 1,
    /// A satellite's own choices (stack seeds, ports): id = satellite index.
    Satellite = 2,
    /// A QUIC endpoint's choices: id = satellite index × 2¹⁶ + UDP port.
    Quic = 3,
    /// The TLS key of an in-process run: id = 8-byte word of the key.
    Tls = 4,
    /// A ground site's weather: id = site index × 2 + (0 cloud, 1 rain).
    Weather = 5,
}

/// SplitMix64 finaliser (Steele, Lea & Flood, OOPSLA 2014): a bijective mix.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The seed of stream (`domain`, `id`) under scenario seed `seed`.
pub fn stream_seed(seed: u64, domain: Domain, id: u64) -> u64 {
    mix(mix(mix(seed) ^ domain as u64) ^ id)
}

/// A generator for stream (`domain`, `id`).
pub fn stream(seed: u64, domain: Domain, id: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(stream_seed(seed, domain, id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn streams_repeat_and_differ() {
        let a: u64 = stream(1, Domain::LinkLoss, 7).random();
        let b: u64 = stream(1, Domain::LinkLoss, 7).random();
        let c: u64 = stream(1, Domain::LinkLoss, 8).random();
        let d: u64 = stream(2, Domain::LinkLoss, 7).random();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
    }
}
