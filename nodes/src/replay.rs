//! The receiving end of one link's sequence numbers: a sliding window of
//! the last [`WINDOW`] numbers seen, as IPsec keeps against replay
//! (RFC 4303 §3.4.3, the bitmap of RFC 6479 without its blocks).
//!
//! The router numbers every frame it sends on a link, from 1 up, one
//! counter per link and direction ([`crate::wire::Header::seq`]). The
//! receiver takes a frame whose number is above every number seen (the
//! window slides up to it), or inside the window and not seen yet (frames
//! of one link may arrive out of order if the host reorders datagrams);
//! it refuses a number it has seen (`replayed`: a copy) and one below the
//! window (`stale`: too old to tell). Sequence number 0 is never sent.
//!
//! The window trusts a jump forwards: the frame has passed the run-token
//! and peer checks before its number is looked at. A satellite restarted
//! after a crash numbers its frames from above anything its earlier life
//! could have sent ([`restart_base`]), so its peers take them at once.

use orbnet_netem::SimTime;

/// Sequence numbers the window remembers below the highest seen.
pub const WINDOW: u64 = 1024;
const WORDS: usize = (WINDOW / 64) as usize;

/// Why a sequence number was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Replay {
    /// Seen already: a copy of a frame taken before.
    #[error("sequence number seen already")]
    Replayed,
    /// Below the window: older than the last [`WINDOW`] numbers.
    #[error("sequence number older than the window")]
    Stale,
}

impl Replay {
    /// The reason as the counters name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Replay::Replayed => "replayed",
            Replay::Stale => "stale",
        }
    }
}

/// The sequence numbers seen on one link, in one direction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayWindow {
    /// The highest number taken (0 before the first).
    top: u64,
    /// Bit `n % WINDOW` is set when number `n` (within the window) was taken.
    seen: [u64; WORDS],
}

impl Default for ReplayWindow {
    fn default() -> Self {
        ReplayWindow::new()
    }
}

impl ReplayWindow {
    /// A window that has seen nothing (number 0 counts as seen: it is never sent).
    pub fn new() -> ReplayWindow {
        let mut seen = [0u64; WORDS];
        seen[0] = 1;
        ReplayWindow { top: 0, seen }
    }

    /// The highest number taken so far.
    pub fn top(&self) -> u64 {
        self.top
    }

    fn bit(n: u64) -> (usize, u64) {
        let i = n % WINDOW;
        ((i / 64) as usize, 1u64 << (i % 64))
    }

    /// Takes number `seq` if it is new, remembering it; refuses it otherwise.
    pub fn check(&mut self, seq: u64) -> Result<(), Replay> {
        if seq > self.top {
            let jump = seq - self.top;
            if jump >= WINDOW {
                self.seen = [0; WORDS];
            } else {
                // Forget the numbers the window slides past: they share
                // their bits with the new ones.
                for n in self.top + 1..=seq {
                    let (w, b) = Self::bit(n);
                    self.seen[w] &= !b;
                }
            }
            self.top = seq;
            let (w, b) = Self::bit(seq);
            self.seen[w] |= b;
            return Ok(());
        }
        if self.top - seq >= WINDOW {
            return Err(Replay::Stale);
        }
        let (w, b) = Self::bit(seq);
        if self.seen[w] & b != 0 {
            return Err(Replay::Replayed);
        }
        self.seen[w] |= b;
        Ok(())
    }
}

/// The first sequence number of a satellite's links when it begins at
/// `at`: 0 at the start of a run; after a restart, 256 for every virtual
/// nanosecond since the start, more than its earlier life could have used
/// (a link would need more than 256 frames a nanosecond, some 130 Tb/s of
/// 64-byte frames).
pub fn restart_base(at: SimTime) -> u64 {
    at.as_nanos().saturating_mul(256)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_numbers_pass_and_copies_do_not() {
        let mut w = ReplayWindow::new();
        assert_eq!(w.check(0), Err(Replay::Replayed), "0 is never sent");
        for n in 1..=3000 {
            assert_eq!(w.check(n), Ok(()));
            assert_eq!(w.check(n), Err(Replay::Replayed));
        }
        assert_eq!(w.top(), 3000);
        // Inside the window but seen: a copy. Below it: stale.
        assert_eq!(w.check(3000 - WINDOW + 1), Err(Replay::Replayed));
        assert_eq!(w.check(3000 - WINDOW), Err(Replay::Stale));
        assert_eq!(w.check(1), Err(Replay::Stale));
    }

    #[test]
    fn late_frames_inside_the_window_pass_once() {
        let mut w = ReplayWindow::new();
        assert_eq!(w.check(10), Ok(()));
        // 1..9 never arrived; they may still, once each.
        for n in (1..10).rev() {
            assert_eq!(w.check(n), Ok(()));
        }
        for n in 1..=10 {
            assert_eq!(w.check(n), Err(Replay::Replayed));
        }
        // A slide by less than the window keeps what it still covers.
        assert_eq!(w.check(10 + WINDOW - 1), Ok(()));
        assert_eq!(w.check(10), Err(Replay::Replayed));
        assert_eq!(w.check(9), Err(Replay::Stale));
        // Numbers the slide passed over were never seen: they pass.
        assert_eq!(w.check(500), Ok(()));
    }

    #[test]
    fn a_jump_beyond_the_window_forgets_everything_below() {
        let mut w = ReplayWindow::new();
        for n in 1..=100 {
            assert_eq!(w.check(n), Ok(()));
        }
        let base = restart_base(SimTime::from_millis(5));
        assert!(base > 100);
        assert_eq!(w.check(base + 1), Ok(()));
        assert_eq!(w.check(base + 1), Err(Replay::Replayed));
        assert_eq!(w.check(base), Ok(()), "inside the window, unseen");
        assert_eq!(w.check(100), Err(Replay::Stale));
        // The bits of the old numbers were cleared: base + 1 - WINDOW + k
        // shares a bit with an old number and is still new.
        assert_eq!(w.check(base + 1 - WINDOW + 1), Ok(()));
    }

    #[test]
    fn the_window_agrees_with_a_set_of_everything_seen() {
        // A deterministic mix of new, late, copied and old numbers, against
        // the definition: take n iff n was never taken and n > top - WINDOW.
        let mut w = ReplayWindow::new();
        let mut taken = std::collections::BTreeSet::new();
        let mut top = 0u64;
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let n = match x % 4 {
                0 => top + 1 + (x >> 8) % 3,
                1 => top.saturating_sub((x >> 8) % (WINDOW + 200)),
                2 => top + (x >> 8) % 2000,
                _ => top.saturating_sub((x >> 8) % 40),
            };
            let expect = if n > top {
                Ok(())
            } else if top - n >= WINDOW {
                Err(Replay::Stale)
            } else if n == 0 || taken.contains(&n) {
                Err(Replay::Replayed)
            } else {
                Ok(())
            };
            assert_eq!(w.check(n), expect, "n {n}, top {top}");
            if expect.is_ok() {
                taken.insert(n);
                top = top.max(n);
            }
        }
    }
}
