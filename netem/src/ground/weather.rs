//! Weather at a site: clear and blocked spells (clouds for an optical
//! station, rain for a Ka-band one) as a seeded alternating renewal process.
//!
//! A site's sky alternates between clear and blocked spells of exponential
//! length. Given the long-run clear fraction `p` and the mean blocked spell
//! `m_b`, the mean clear spell is `m_c = m_b · p / (1 − p)`, so that
//! `m_c / (m_c + m_b) = p` (renewal–reward theorem; Ross, *Stochastic
//! Processes*, 2nd ed., §3.6). With exponential spells the sky is a
//! two-state Markov chain with rates `α = 1/m_c` (clear → blocked) and
//! `β = 1/m_b`; it starts in its stationary law (clear with probability `p`),
//! and since spells are memoryless it is stationary from the epoch on. Its
//! autocovariance is `p (1 − p) e^{−(α+β)|τ|}`, so the clear fraction over a
//! horizon `T ≫ 1/(α+β)` has standard deviation
//! `sqrt(2 p (1 − p) / ((α + β) T))`.
//!
//! Figures for `p` come from cloud climatology (del Portillo et al., "Optimal
//! location of optical ground stations to serve LEO spacecraft", IEEE
//! Aerospace 2017; the IOAG Optical Link Study Group report, 2012: an
//! Australasian 8-site study found 69 % mean availability); rain for Ka band
//! follows ITU-R P.618. Sites here are independent: real cloud is correlated
//! over hundreds of kilometres, which limits site diversity for LEO
//! (del Portillo 2017).
//!
//! Every site's sky draws from its own stream ([`crate::rng::Domain::Weather`],
//! id = site × 2 + 0 for cloud, + 1 for rain), so it does not depend on which
//! other sites exist or on the order of queries.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::rng::{Domain, stream_seed};
use crate::units::{SimDuration, SimTime};

/// Long-run statistics of one kind of weather at a site.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Climate {
    clear_fraction: f64,
    mean_blocked_s: f64,
}

/// Why weather statistics are rejected.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ClimateError {
    #[error("clear fraction {0} is outside [0, 1]")]
    ClearFraction(f64),
    #[error("mean blocked spell {0} s is not positive and finite")]
    MeanBlocked(f64),
}

impl Climate {
    /// `clear_fraction` of the time clear in the long run (e.g. `cloud_free`),
    /// with blocked spells of mean `mean_blocked_s` seconds (e.g.
    /// `cloud_mean_s`, `rain_mean_s`).
    pub fn new(clear_fraction: f64, mean_blocked_s: f64) -> Result<Climate, ClimateError> {
        if !(0.0..=1.0).contains(&clear_fraction) {
            return Err(ClimateError::ClearFraction(clear_fraction));
        }
        if !(mean_blocked_s.is_finite() && mean_blocked_s > 0.0) {
            return Err(ClimateError::MeanBlocked(mean_blocked_s));
        }
        Ok(Climate {
            clear_fraction,
            mean_blocked_s,
        })
    }

    pub fn clear_fraction(&self) -> f64 {
        self.clear_fraction
    }

    pub fn mean_blocked_s(&self) -> f64 {
        self.mean_blocked_s
    }

    /// Mean clear spell, seconds: `m_b · p / (1 − p)` (infinite when `p = 1`).
    pub fn mean_clear_s(&self) -> f64 {
        let p = self.clear_fraction;
        if p >= 1.0 {
            f64::INFINITY
        } else {
            self.mean_blocked_s * p / (1.0 - p)
        }
    }
}

crate::named! {
    /// What blocks a site's sky.
    pub enum Obscurant {
        Cloud = "cloud",
        Rain = "rain",
    }
}

/// One spell of weather: clear or blocked over `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spell {
    pub clear: bool,
    pub start: SimTime,
    /// [`SimTime::MAX`] for a spell that never ends (`p` of 0 or 1).
    pub end: SimTime,
}

/// A site's sky over the run: a deterministic function of the scenario
/// seed, the site and the obscurant, read through a cursor.
///
/// Queries at increasing times walk forward through the spells; a query
/// before the current spell replays the stream from the epoch.
#[derive(Clone, Debug)]
pub struct Sky {
    climate: Climate,
    seed: u64,
    rng: ChaCha8Rng,
    spell: Spell,
}

impl Sky {
    /// The sky of `site` for `obscurant` under scenario seed `seed`.
    pub fn new(climate: Climate, seed: u64, site: u32, obscurant: Obscurant) -> Sky {
        let id = u64::from(site) * 2 + u64::from(obscurant == Obscurant::Rain);
        let seed = stream_seed(seed, Domain::Weather, id);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let spell = first_spell(&climate, &mut rng);
        Sky {
            climate,
            seed,
            rng,
            spell,
        }
    }

    pub fn climate(&self) -> Climate {
        self.climate
    }

    /// The spell under way at `t`.
    pub fn spell(&mut self, t: SimTime) -> Spell {
        if t < self.spell.start {
            self.rewind();
        }
        while t >= self.spell.end && self.spell.end < SimTime::MAX {
            self.advance();
        }
        self.spell
    }

    /// Whether the sky is clear at `t`.
    pub fn is_clear(&mut self, t: SimTime) -> bool {
        self.spell(t).clear
    }

    fn rewind(&mut self) {
        self.rng = ChaCha8Rng::seed_from_u64(self.seed);
        self.spell = first_spell(&self.climate, &mut self.rng);
    }

    fn advance(&mut self) {
        let clear = !self.spell.clear;
        let start = self.spell.end;
        let length = spell_length(&self.climate, clear, &mut self.rng);
        self.spell = Spell {
            clear,
            start,
            end: start + length,
        };
    }
}

/// The spell under way at the epoch, drawn from the stationary law.
fn first_spell(climate: &Climate, rng: &mut ChaCha8Rng) -> Spell {
    let p = climate.clear_fraction;
    if p <= 0.0 || p >= 1.0 {
        return Spell {
            clear: p >= 1.0,
            start: SimTime::ZERO,
            end: SimTime::MAX,
        };
    }
    let clear = rng.random::<f64>() < p;
    Spell {
        clear,
        start: SimTime::ZERO,
        end: SimTime::ZERO + spell_length(climate, clear, rng),
    }
}

/// An exponential spell length, `−m ln U` with `U` uniform on (0, 1], at
/// least a nanosecond so that the walk always moves.
fn spell_length(climate: &Climate, clear: bool, rng: &mut ChaCha8Rng) -> SimDuration {
    let mean = if clear {
        climate.mean_clear_s()
    } else {
        climate.mean_blocked_s
    };
    let u = 1.0 - rng.random::<f64>();
    SimDuration::from_secs_f64(-mean * u.ln()).max(SimDuration::from_nanos(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    const YEAR_S: f64 = 365.25 * 86_400.0;

    /// Tenerife-like optical site: 65 % clear, cloudy spells of 3 h on average.
    fn climate() -> Climate {
        Climate::new(0.65, 3.0 * 3600.0).expect("valid")
    }

    /// Seconds of clear sky in `[0, horizon)`, walking the spells.
    fn clear_seconds(sky: &mut Sky, horizon: SimTime) -> f64 {
        let mut total = 0.0;
        let mut t = SimTime::ZERO;
        while t < horizon {
            let spell = sky.spell(t);
            let end = spell.end.min(horizon);
            if spell.clear {
                total += (end - t).as_secs_f64();
            }
            t = end;
        }
        total
    }

    /// Standard deviation of the clear fraction over `horizon_s` (module notes).
    fn sigma(c: &Climate, horizon_s: f64) -> f64 {
        let p = c.clear_fraction();
        let rates = 1.0 / c.mean_clear_s() + 1.0 / c.mean_blocked_s();
        (2.0 * p * (1.0 - p) / (rates * horizon_s)).sqrt()
    }

    #[test]
    fn mean_clear_spell_follows_from_the_fraction() {
        // 65 % clear with 3 h clouds: clear spells of 3 h × 0.65/0.35 = 5.571 h.
        assert!((climate().mean_clear_s() / 3600.0 - 5.571_428_6).abs() < 1e-6);
    }

    #[test]
    fn long_run_clear_fraction_is_within_five_sigma() {
        let c = climate();
        let horizon_s = 20.0 * YEAR_S;
        let horizon = SimTime::from_secs_f64(horizon_s);
        let s = sigma(&c, horizon_s);
        for seed in 1..=4 {
            let mut sky = Sky::new(c, seed, 0, Obscurant::Cloud);
            let fraction = clear_seconds(&mut sky, horizon) / horizon_s;
            assert!(
                (fraction - 0.65).abs() < 5.0 * s,
                "seed {seed}: {fraction} (σ = {s})"
            );
        }
        // Many short, independent horizons: their mean has σ/√n.
        let (n, short_s) = (200, 30.0 * 86_400.0);
        let mut sum = 0.0;
        for site in 0..n {
            let mut sky = Sky::new(c, 9, site, Obscurant::Cloud);
            sum += clear_seconds(&mut sky, SimTime::from_secs_f64(short_s)) / short_s;
        }
        let mean = sum / f64::from(n);
        let s = sigma(&c, short_s) / f64::from(n).sqrt();
        assert!((mean - 0.65).abs() < 5.0 * s, "{mean} (σ = {s})");
    }

    #[test]
    fn mean_spell_lengths_match_the_climate() {
        let c = climate();
        let mut sky = Sky::new(c, 3, 0, Obscurant::Cloud);
        let (mut clear, mut blocked) = (Vec::new(), Vec::new());
        let mut t = SimTime::ZERO;
        // Skip the first spell, which the epoch cuts.
        t = sky.spell(t).end;
        while clear.len() < 20_000 {
            let spell = sky.spell(t);
            let length = (spell.end - spell.start).as_secs_f64();
            if spell.clear {
                &mut clear
            } else {
                &mut blocked
            }
            .push(length);
            t = spell.end;
        }
        // Exponential lengths: the mean of n has σ = m/√n.
        for (lengths, m) in [(&clear, c.mean_clear_s()), (&blocked, c.mean_blocked_s())] {
            let n = lengths.len() as f64;
            let mean = lengths.iter().sum::<f64>() / n;
            assert!((mean - m).abs() < 5.0 * m / n.sqrt(), "{mean} vs {m}");
        }
    }

    #[test]
    fn site_diversity_raises_availability_to_one_minus_q_squared() {
        // Two independent sites, usable if either is clear: 1 − 0.35² = 0.8775.
        let c = climate();
        let horizon_s = 20.0 * YEAR_S;
        let horizon = SimTime::from_secs_f64(horizon_s);
        let mut a = Sky::new(c, 5, 0, Obscurant::Cloud);
        let mut b = Sky::new(c, 5, 1, Obscurant::Cloud);
        let mut either = 0.0;
        let mut t = SimTime::ZERO;
        while t < horizon {
            let (sa, sb) = (a.spell(t), b.spell(t));
            let end = sa.end.min(sb.end).min(horizon);
            if sa.clear || sb.clear {
                either += (end - t).as_secs_f64();
            }
            t = end;
        }
        let fraction = either / horizon_s;
        // Both blocked is W = Z₁Z₂ with P(Z = 1) = q; its autocovariance
        // (q² + pq e^{−κτ})² − q⁴ integrates to (2pq³ + p²q²/2)/κ.
        let (p, q): (f64, f64) = (0.65, 0.35);
        let kappa = 1.0 / c.mean_clear_s() + 1.0 / c.mean_blocked_s();
        let s = (2.0 * (2.0 * p * q.powi(3) + p * p * q * q / 2.0) / kappa / horizon_s).sqrt();
        assert!((fraction - 0.8775).abs() < 5.0 * s, "{fraction} (σ = {s})");
    }

    #[test]
    fn queries_repeat_in_any_order() {
        let c = climate();
        let times: Vec<SimTime> = (0..500)
            .map(|i| SimTime::from_secs_f64(f64::from(i) * 1234.5))
            .collect();
        let mut forward = Sky::new(c, 11, 2, Obscurant::Rain);
        let ahead: Vec<bool> = times.iter().map(|&t| forward.is_clear(t)).collect();
        let mut backward = Sky::new(c, 11, 2, Obscurant::Rain);
        let behind: Vec<bool> = times.iter().rev().map(|&t| backward.is_clear(t)).collect();
        assert!(ahead.iter().eq(behind.iter().rev()));
        // Going back on the same sky replays the same spells.
        assert_eq!(forward.is_clear(times[3]), ahead[3]);
        // Cloud and rain at one site, and two sites, are different streams.
        let mut cloud = Sky::new(c, 11, 2, Obscurant::Cloud);
        let mut other = Sky::new(c, 11, 3, Obscurant::Rain);
        assert!(
            times
                .iter()
                .any(|&t| cloud.is_clear(t) != ahead[0] || other.is_clear(t))
        );
        let spells = |sky: &mut Sky| sky.spell(SimTime::ZERO);
        assert_ne!(spells(&mut cloud), spells(&mut forward));
        assert_ne!(spells(&mut other), spells(&mut forward));
    }

    #[test]
    fn always_clear_and_always_blocked() {
        let mut clear = Sky::new(
            Climate::new(1.0, 600.0).expect("valid"),
            1,
            0,
            Obscurant::Cloud,
        );
        let mut blocked = Sky::new(
            Climate::new(0.0, 600.0).expect("valid"),
            1,
            0,
            Obscurant::Rain,
        );
        for t in [SimTime::ZERO, SimTime::from_secs_f64(1e9), SimTime::MAX] {
            assert!(clear.is_clear(t));
            assert!(!blocked.is_clear(t));
        }
    }

    #[test]
    fn bad_statistics_are_rejected() {
        assert_eq!(
            Climate::new(1.2, 60.0),
            Err(ClimateError::ClearFraction(1.2))
        );
        assert_eq!(Climate::new(0.5, 0.0), Err(ClimateError::MeanBlocked(0.0)));
        assert!(Climate::new(f64::NAN, 60.0).is_err());
        assert!(Climate::new(0.5, f64::INFINITY).is_err());
    }
}
