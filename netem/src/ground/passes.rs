//! Pass prediction: when one satellite rises above a station's mask, how
//! high it climbs, and when it sets.
//!
//! The search samples the mask margin ([`Mask`]: elevation above the mask,
//! or range below the limit, whichever is smaller) every [`SAMPLE_STEP`],
//! then
//! - brackets each change of sign and bisects it to [`TOLERANCE`] (the rise
//!   and set returned are the instants on the visible side, at most one
//!   tolerance inside the true crossing);
//! - finds the culmination by golden-section search (Kiefer 1953) for the
//!   highest elevation within a step either side of the highest sample;
//! - looks at every local maximum of the samples that stays under the mask
//!   and searches it the same way, so a grazing pass shorter than a step is
//!   not lost.
//!
//! How long a pass lasts, for a circular orbit of height `h` passing over
//! the station (sphere of radius `R`, mask `ε`): the satellite is in view
//! while its Earth central angle from the station is below
//! `λ = arccos(R cos ε / (R+h)) − ε`, so a pass lasts `2λ / ω_rel`, with
//! `ω_rel` the satellite's angular rate relative to the rotating Earth
//! (Wertz & Larson, *Space Mission Analysis and Design*, 3rd ed., §5.2, §7.2).
//! At 550 km with a 25° mask, `λ = 8.45°`: about 270 s for a polar orbit and
//! 289 s for an eastbound equatorial one.
//!
//! A pass already under way at the start of the window rises at the start;
//! one still up at its end sets at the end.

use super::look::{Mask, look};
use super::station::Station;
use crate::orbit::Orbit;
use crate::units::{SimDuration, SimTime};

/// Spacing of the coarse samples: a LEO pass lasts minutes, and the search
/// of local maxima catches passes shorter than a step.
pub const SAMPLE_STEP: SimDuration = SimDuration::from_millis(10_000);
/// Precision of rise, set and culmination times.
pub const TOLERANCE: SimDuration = SimDuration::from_millis(1);

/// One pass of a satellite over a station.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pass {
    pub rise: SimTime,
    /// The instant of highest elevation.
    pub culmination: SimTime,
    pub max_elevation_deg: f64,
    pub set: SimTime,
}

impl Pass {
    pub fn duration(&self) -> SimDuration {
        self.set - self.rise
    }
}

/// Every pass of `orbit` over `station` above `mask` between `from` and `to`,
/// in time order (none if `to` is not after `from`).
pub fn passes(
    station: &Station,
    orbit: &dyn Orbit,
    mask: &Mask,
    from: SimTime,
    to: SimTime,
) -> Vec<Pass> {
    Search {
        station,
        orbit,
        mask,
    }
    .run(from, to)
}

/// The margin and elevation of the satellite at one instant.
#[derive(Clone, Copy, Debug)]
struct Sample {
    t: SimTime,
    margin: f64,
    elevation_deg: f64,
}

impl Sample {
    fn up(&self) -> bool {
        self.margin >= 0.0
    }
}

/// A pass that has risen and not yet set.
#[derive(Clone, Copy, Debug)]
struct Open {
    rise: SimTime,
    /// The highest sample so far.
    best: Sample,
}

impl Open {
    fn consider(&mut self, s: Sample) {
        if s.elevation_deg > self.best.elevation_deg {
            self.best = s;
        }
    }
}

/// One station, one orbit, one mask.
struct Search<'a> {
    station: &'a Station,
    orbit: &'a dyn Orbit,
    mask: &'a Mask,
}

impl Search<'_> {
    fn sample(&self, t: SimTime) -> Sample {
        let l = look(self.station, self.orbit.position(t), t);
        Sample {
            t,
            margin: self.mask.margin(&l),
            elevation_deg: l.elevation_deg,
        }
    }

    fn run(&self, from: SimTime, to: SimTime) -> Vec<Pass> {
        let mut found = Vec::new();
        if to <= from {
            return found;
        }
        let mut prev = self.sample(from);
        let mut before: Option<Sample> = None;
        let mut open = prev.up().then_some(Open {
            rise: from,
            best: prev,
        });
        while prev.t < to {
            let next = self.sample((prev.t + SAMPLE_STEP).min(to));
            match (prev.up(), next.up()) {
                (false, true) => {
                    let rise = self.crossing(prev.t, next.t, true);
                    open = Some(Open { rise, best: next });
                }
                (true, false) => {
                    let set = self.crossing(prev.t, next.t, false);
                    found.extend(open.take().map(|o| self.close(o, set)));
                }
                (true, true) => open.iter_mut().for_each(|o| o.consider(next)),
                (false, false) => {
                    found.extend(before.and_then(|b| self.grazing(b, prev, next)));
                }
            }
            before = Some(prev);
            prev = next;
        }
        found.extend(open.map(|o| self.close(o, to)));
        found
    }

    /// The visible end of `[lo, hi]` after bisecting a change of visibility
    /// to [`TOLERANCE`]: `hi` for a rise, `lo` for a set.
    fn crossing(&self, mut lo: SimTime, mut hi: SimTime, rising: bool) -> SimTime {
        while hi - lo > TOLERANCE {
            let mid = lo + SimDuration::from_nanos((hi - lo).as_nanos() / 2);
            if self.sample(mid).up() == rising {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        if rising { hi } else { lo }
    }

    /// The pass that rose at `open.rise` and set at `set`, with its culmination.
    fn close(&self, open: Open, set: SimTime) -> Pass {
        let lo = open.best.t.saturating_sub(SAMPLE_STEP).max(open.rise);
        let hi = (open.best.t + SAMPLE_STEP).min(set);
        let top = self.maximise(lo, hi, |s| s.elevation_deg);
        Pass {
            rise: open.rise,
            culmination: top.t,
            max_elevation_deg: top.elevation_deg,
            set,
        }
    }

    /// A pass hidden between three samples below the mask whose middle one
    /// is highest, if the margin's peak between the outer two is above zero.
    fn grazing(&self, before: Sample, middle: Sample, after: Sample) -> Option<Pass> {
        if !(before.margin < middle.margin && middle.margin >= after.margin) {
            return None;
        }
        let peak = self.maximise(before.t, after.t, |s| s.margin);
        if !peak.up() {
            return None;
        }
        let rise = self.crossing(before.t, peak.t, true);
        let set = self.crossing(peak.t, after.t, false);
        Some(self.close(Open { rise, best: peak }, set))
    }

    /// The sample of largest `key` in `[lo, hi]` by golden-section search,
    /// which assumes `key` has a single peak there; the ends are candidates.
    fn maximise(&self, lo: SimTime, hi: SimTime, key: fn(&Sample) -> f64) -> Sample {
        const INV_PHI: f64 = 0.618_033_988_749_894_9;
        let at = |a: SimTime, b: SimTime, frac: f64| {
            self.sample(a + SimDuration::from_nanos(((b - a).as_nanos() as f64 * frac) as u64))
        };
        let (mut a, mut b) = (lo, hi);
        let mut c = at(a, b, 1.0 - INV_PHI);
        let mut d = at(a, b, INV_PHI);
        while b - a > TOLERANCE {
            if key(&c) >= key(&d) {
                b = d.t;
                d = c;
                c = at(a, b, 1.0 - INV_PHI);
            } else {
                a = c.t;
                c = d;
                d = at(a, b, INV_PHI);
            }
        }
        [self.sample(lo), self.sample(hi), d]
            .into_iter()
            .fold(c, |best, s| if key(&s) > key(&best) { s } else { best })
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, NaiveDate, Utc};

    use super::*;
    use crate::ground::earth::{Geodetic, WGS84_A};
    use crate::orbit::CircularOrbit;

    fn epoch() -> DateTime<Utc> {
        NaiveDate::from_ymd_opt(2026, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .expect("valid date")
            .and_utc()
    }

    fn station(lat: f64, lon: f64) -> Station {
        Station::new(Geodetic::new(lat, lon, 0.0).expect("valid"), epoch())
    }

    fn mask(deg: f64) -> Mask {
        Mask::new(deg, None).expect("valid")
    }

    const MU: f64 = 3.986_004_418e14;
    /// The Earth's sidereal rotation rate, rad/s (one turn in 86 164.09 s).
    const OMEGA_EARTH: f64 = 7.292_115_9e-5;

    fn hours(h: f64) -> SimTime {
        SimTime::from_secs_f64(h * 3600.0)
    }

    #[test]
    fn overhead_pass_length_matches_two_lambda_over_relative_rate() {
        // Equatorial orbit, equatorial station: every pass is overhead, and
        // the satellite gains on the Earth at n − ω⊕.
        let (r, h, eps) = (WGS84_A, 550e3, 25f64.to_radians());
        let lambda = (r * eps.cos() / (r + h)).acos() - eps;
        let n = (MU / (r + h).powi(3)).sqrt();
        let expected = 2.0 * lambda / (n - OMEGA_EARTH);
        assert!((expected - 288.7).abs() < 0.5, "{expected} s");
        let orbit = CircularOrbit::new(h, 0.0, 0.0, 1.0);
        let found = passes(
            &station(0.0, 30.0),
            &orbit,
            &mask(25.0),
            hours(0.0),
            hours(24.0),
        );
        // Synodic period 2π/(n − ω⊕) = 6149 s: 14 passes a day.
        assert_eq!(found.len(), 14, "{found:?}");
        for p in &found[1..found.len() - 1] {
            let d = p.duration().as_secs_f64();
            assert!((d / expected - 1.0).abs() < 0.01, "{d} s vs {expected} s");
            assert!(p.max_elevation_deg > 89.9, "{p:?}");
        }
        let synodic = std::f64::consts::TAU / (n - OMEGA_EARTH);
        let gap = (found[2].culmination - found[1].culmination).as_secs_f64();
        assert!(
            (gap / synodic - 1.0).abs() < 0.005,
            "{gap} s vs {synodic} s"
        );
    }

    #[test]
    fn a_polar_orbit_passes_over_86_north_on_every_orbit() {
        let h = 550e3;
        let period = std::f64::consts::TAU * ((WGS84_A + h).powi(3) / MU).sqrt();
        let orbit = CircularOrbit::new(h, 90f64.to_radians(), 1.0, 0.0);
        let end = SimTime::from_secs_f64(10.0 * period);
        let found = passes(
            &station(86.0, 15.0),
            &orbit,
            &mask(25.0),
            SimTime::ZERO,
            end,
        );
        assert_eq!(found.len(), 10, "{found:?}");
        for pair in found.windows(2) {
            let gap = (pair[1].culmination - pair[0].culmination).as_secs_f64();
            assert!((gap / period - 1.0).abs() < 0.02, "{gap} s vs {period} s");
        }
    }

    #[test]
    fn rise_set_and_culmination_are_precise() {
        let s = station(48.85, 2.35);
        let orbit = CircularOrbit::new(550e3, 53f64.to_radians(), 0.3, 2.0);
        let m = mask(25.0);
        let found = passes(&s, &orbit, &m, hours(0.0), hours(24.0));
        assert!(!found.is_empty());
        let elevation = |t: SimTime| look(&s, orbit.position(t), t).elevation_deg;
        let ten_ms = SimDuration::from_millis(10);
        for p in found
            .iter()
            .filter(|p| p.rise > hours(0.0) && p.set < hours(24.0))
        {
            assert!(elevation(p.rise) >= 25.0 && elevation(p.rise.saturating_sub(ten_ms)) < 25.0);
            assert!(elevation(p.set) >= 25.0 && elevation(p.set + ten_ms) < 25.0);
            let mut t = p.rise;
            while t <= p.set {
                assert!(elevation(t) <= p.max_elevation_deg + 1e-6, "{p:?} at {t}");
                t += SimDuration::from_millis(500);
            }
        }
    }

    /// Visible intervals found by sampling every `step`.
    fn scan(s: &Station, orbit: &dyn Orbit, m: &Mask, to: SimTime, step: SimDuration) -> usize {
        let mut count = 0;
        let mut was_up = false;
        let mut t = SimTime::ZERO;
        while t <= to {
            let up = m.admits(&look(s, orbit.position(t), t));
            count += usize::from(up && !was_up);
            was_up = up;
            t += step;
        }
        count
    }

    #[test]
    fn no_pass_is_missed_compared_with_a_dense_scan() {
        let s = station(40.4, -3.7);
        let m = mask(25.0);
        for k in 0..6 {
            let raan = f64::from(k) * 0.9;
            let orbit = CircularOrbit::new(550e3, 53f64.to_radians(), raan, 0.5 * f64::from(k));
            let found = passes(&s, &orbit, &m, SimTime::ZERO, hours(24.0));
            let dense = scan(&s, &orbit, &m, hours(24.0), SimDuration::from_millis(1_000));
            assert_eq!(found.len(), dense, "RAAN {raan}: {found:?}");
        }
    }

    #[test]
    fn a_grazing_pass_shorter_than_a_step_is_found() {
        // A station on the equator under an equatorial orbit whose mask
        // leaves only the top 0.3° of the sky: λ = 0.024°, a pass of 0.8 s.
        // GMST at the epoch is 100.6°, so the satellite (starting at inertial
        // longitude 0) first meets the station after 100.6/360 of a synodic
        // period of 6149 s, at 1718 s, then at 7867, 14016 and 20165 s.
        let s = station(0.0, 0.0);
        let orbit = CircularOrbit::new(550e3, 0.0, 0.0, 0.0);
        let found = passes(&s, &orbit, &mask(89.7), SimTime::ZERO, hours(6.0));
        assert_eq!(found.len(), 4, "{found:?}");
        let first = found[0].culmination.as_secs_f64();
        assert!((first - 1718.0).abs() < 10.0, "{first} s");
        for p in &found {
            assert!(p.duration() < SAMPLE_STEP, "{p:?}");
            assert!(p.max_elevation_deg > 89.9, "{p:?}");
        }
    }

    #[test]
    fn a_window_opening_mid_pass_rises_at_its_start() {
        let s = station(0.0, 30.0);
        let orbit = CircularOrbit::new(550e3, 0.0, 0.0, 1.0);
        let m = mask(25.0);
        let first = passes(&s, &orbit, &m, SimTime::ZERO, hours(3.0))[0];
        let inside = first.rise + SimDuration::from_millis(30_000);
        let clipped = passes(&s, &orbit, &m, inside, first.set.saturating_sub(TOLERANCE));
        assert_eq!(clipped.len(), 1);
        assert_eq!(clipped[0].rise, inside);
        assert!(passes(&s, &orbit, &m, inside, inside).is_empty());
        assert!(
            clipped[0]
                .culmination
                .as_nanos()
                .abs_diff(first.culmination.as_nanos())
                < 2_000_000
        );
    }

    #[test]
    fn a_day_of_passes_takes_well_under_100_ms() {
        let s = station(52.0, 5.0);
        let orbit = CircularOrbit::new(550e3, 53f64.to_radians(), 0.0, 0.0);
        let started = std::time::Instant::now();
        let found = passes(&s, &orbit, &mask(10.0), SimTime::ZERO, hours(24.0));
        let took = started.elapsed();
        println!("{} passes in 24 h found in {took:?}", found.len());
        assert!(!found.is_empty());
        if !cfg!(debug_assertions) {
            assert!(took.as_millis() < 100, "{took:?}");
        }
    }
}
