//! Orbit propagators behind one trait: where a satellite is at a [`SimTime`].
//!
//! - [`CircularOrbit`]: a circular orbit with the secular drift caused by the
//!   Earth's oblateness (J2). For a circular orbit of semi-major axis `a`,
//!   inclination `i` and mean motion `n = sqrt(mu / a^3)`, with
//!   `k = J2 (Re / a)^2` (Vallado, *Fundamentals of Astrodynamics and
//!   Applications*, 4th ed., §9.6):
//!   - node: `dΩ/dt = -3/2 n k cos i`
//!   - perigee: `dω/dt = 3/4 n k (5 cos² i - 1)`
//!   - mean anomaly: `dM/dt = n (1 + 3/4 k (3 cos² i - 1))`
//!
//!   On a circular orbit only the argument of latitude `u = ω + M` is
//!   observable, so it advances at `dω/dt + dM/dt`.
//! - [`walker_shell`]: a Walker constellation `i: T/P/F` of such orbits.
//! - [`TleOrbit`]: SGP4 through the `sgp4` crate (WGS-72, AFSPC mode), from a
//!   TLE's own epoch, in the TEME frame. Distances between satellites do not depend on the frame.
//! - formations live in [`crate::formation`].
//!
//! Positions are in an Earth-centred inertial frame, in metres; the Earth is
//! a sphere for line of sight, so its rotation does not matter here.

use std::f64::consts::TAU;

use chrono::{DateTime, Utc};

use crate::geometry::{EARTH_RADIUS_M, Vec3};
use crate::units::SimTime;

/// Earth's gravitational parameter, m³/s² (WGS-84 / EGM-96: 398 600.4418 km³/s²).
pub const MU_EARTH: f64 = 3.986_004_418e14;
/// Earth's second zonal harmonic (EGM-96, unnormalised).
pub const J2: f64 = 1.082_626_68e-3;

/// Position and velocity in the inertial frame (m, m/s).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct State {
    pub position: Vec3,
    pub velocity: Vec3,
}

/// Anything that can say where a satellite is at a virtual time.
pub trait Orbit: Send + Sync + std::fmt::Debug {
    /// Position and velocity at `t` (virtual time since the scenario epoch).
    fn state(&self, t: SimTime) -> State;

    /// Position only; propagators may make this cheaper.
    fn position(&self, t: SimTime) -> Vec3 {
        self.state(t).position
    }
}

/// A circular orbit with J2 secular drift of node, perigee and mean anomaly.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CircularOrbit {
    /// Semi-major axis (= radius), m.
    pub radius: f64,
    /// Inclination, rad.
    pub inclination: f64,
    /// Right ascension of the ascending node at the epoch, rad.
    pub raan0: f64,
    /// Argument of latitude at the epoch, rad.
    pub arg_lat0: f64,
    raan_rate: f64,
    arg_lat_rate: f64,
    sin_i: f64,
    cos_i: f64,
}

impl CircularOrbit {
    /// A circular orbit at `altitude_m` above the equatorial radius.
    pub fn new(altitude_m: f64, inclination: f64, raan0: f64, arg_lat0: f64) -> CircularOrbit {
        let a = EARTH_RADIUS_M + altitude_m;
        let n = (MU_EARTH / a.powi(3)).sqrt();
        let k = J2 * (EARTH_RADIUS_M / a).powi(2);
        let c = inclination.cos();
        let raan_rate = -1.5 * n * k * c;
        let perigee_rate = 0.75 * n * k * (5.0 * c * c - 1.0);
        let mean_anomaly_rate = n * (1.0 + 0.75 * k * (3.0 * c * c - 1.0));
        CircularOrbit {
            radius: a,
            inclination,
            raan0,
            arg_lat0,
            raan_rate,
            arg_lat_rate: perigee_rate + mean_anomaly_rate,
            sin_i: inclination.sin(),
            cos_i: c,
        }
    }

    /// Rate of the argument of latitude, rad/s (the mean motion plus J2 terms).
    pub fn arg_lat_rate(&self) -> f64 {
        self.arg_lat_rate
    }

    /// Drift of the ascending node, rad/s.
    pub fn raan_rate(&self) -> f64 {
        self.raan_rate
    }

    fn angles(&self, t: SimTime) -> (f64, f64) {
        let s = t.as_secs_f64();
        (
            (self.raan0 + self.raan_rate * s) % TAU,
            (self.arg_lat0 + self.arg_lat_rate * s) % TAU,
        )
    }
}

impl Orbit for CircularOrbit {
    fn state(&self, t: SimTime) -> State {
        let (raan, u) = self.angles(t);
        let (so, co) = raan.sin_cos();
        let (su, cu) = u.sin_cos();
        // Unit vectors of the perifocal-like frame: P toward the node, Q 90° ahead in the plane.
        let p = Vec3::new(co, so, 0.0);
        let q = Vec3::new(-so * self.cos_i, co * self.cos_i, self.sin_i);
        let position = (p * cu + q * su) * self.radius;
        let speed = self.radius * self.arg_lat_rate;
        let velocity = (p * -su + q * cu) * speed;
        State { position, velocity }
    }

    fn position(&self, t: SimTime) -> Vec3 {
        let (raan, u) = self.angles(t);
        let (so, co) = raan.sin_cos();
        let (su, cu) = u.sin_cos();
        let r = self.radius;
        Vec3::new(
            r * (co * cu - so * self.cos_i * su),
            r * (so * cu + co * self.cos_i * su),
            r * self.sin_i * su,
        )
    }
}

/// A node's orbit as the world holds it: a circular orbit in place (a
/// Walker shell's thousands of satellites are then no allocation each in
/// every satellite process), any other behind a shared pointer.
#[derive(Clone, Debug)]
pub enum Body {
    Circular(CircularOrbit),
    Other(std::sync::Arc<dyn Orbit>),
}

impl Orbit for Body {
    fn state(&self, t: SimTime) -> State {
        match self {
            Body::Circular(o) => o.state(t),
            Body::Other(o) => o.state(t),
        }
    }

    fn position(&self, t: SimTime) -> Vec3 {
        match self {
            Body::Circular(o) => o.position(t),
            Body::Other(o) => o.position(t),
        }
    }
}

impl From<std::sync::Arc<dyn Orbit>> for Body {
    fn from(o: std::sync::Arc<dyn Orbit>) -> Body {
        Body::Other(o)
    }
}

impl From<CircularOrbit> for Body {
    fn from(o: CircularOrbit) -> Body {
        Body::Circular(o)
    }
}

/// The shape of a Walker constellation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WalkerShell {
    pub planes: u32,
    pub per_plane: u32,
    /// Walker phasing F (0 ≤ F < planes): plane p is shifted by p·F·360°/T in anomaly.
    pub phasing: u32,
    pub altitude_m: f64,
    pub inclination: f64,
    /// Spread of the planes' nodes: 2π for a Walker delta, π for a Walker star.
    pub raan_spread: f64,
}

/// One orbit per satellite, in index order `plane × per_plane + slot`.
pub fn walker_shell(shell: &WalkerShell) -> Vec<CircularOrbit> {
    let total = f64::from(shell.planes) * f64::from(shell.per_plane);
    let mut orbits = Vec::with_capacity(total as usize);
    for p in 0..shell.planes {
        let raan = shell.raan_spread * f64::from(p) / f64::from(shell.planes);
        for s in 0..shell.per_plane {
            let u = TAU * f64::from(s) / f64::from(shell.per_plane)
                + TAU * f64::from(shell.phasing) * f64::from(p) / total;
            orbits.push(CircularOrbit::new(
                shell.altitude_m,
                shell.inclination,
                raan,
                u,
            ));
        }
    }
    orbits
}

/// An SGP4 orbit from a two-line element set, propagated from the set's own
/// epoch. Errors from SGP4 (a decayed orbit) freeze the satellite at its last
/// good position rather than panic.
#[derive(Debug)]
pub struct TleOrbit {
    constants: sgp4::Constants,
    /// Minutes from the element set's epoch to the scenario epoch.
    offset_min: f64,
}

/// Why an element set cannot be propagated.
#[derive(Debug, thiserror::Error)]
pub enum TleError {
    #[error("SGP4 rejects the elements: {0}")]
    Elements(#[from] sgp4::ElementsError),
    #[error("the scenario epoch is too far from the elements' epoch")]
    EpochRange,
}

impl TleOrbit {
    pub fn new(
        elements: &sgp4::Elements,
        scenario_epoch: DateTime<Utc>,
    ) -> Result<TleOrbit, TleError> {
        // Element sets are fitted with the WGS-72 constants and the AFSPC epoch
        // conventions; propagating them the same way reproduces the published
        // verification vectors (Vallado et al. 2006).
        let constants = sgp4::Constants::from_elements_afspc_compatibility_mode(elements)?;
        let offset_min = elements
            .datetime_to_minutes_since_epoch(&scenario_epoch.naive_utc())
            .map_err(|_| TleError::EpochRange)?
            .0;
        Ok(TleOrbit {
            constants,
            offset_min,
        })
    }
}

impl Orbit for TleOrbit {
    fn state(&self, t: SimTime) -> State {
        let minutes = self.offset_min + t.as_secs_f64() / 60.0;
        match self
            .constants
            .propagate_afspc_compatibility_mode(sgp4::MinutesSinceEpoch(minutes))
        {
            Ok(p) => State {
                position: Vec3::new(p.position[0], p.position[1], p.position[2]) * 1e3,
                velocity: Vec3::new(p.velocity[0], p.velocity[1], p.velocity[2]) * 1e3,
            },
            Err(_) => State::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Period from the angle swept between samples, independent of the
    /// propagator's internal rates.
    fn measured_period(orbit: &CircularOrbit) -> f64 {
        let h = orbit.state(SimTime::ZERO);
        let normal = h.position.cross(h.velocity).unit();
        let mut swept = 0.0;
        let mut prev = orbit.position(SimTime::ZERO);
        let step = 10.0;
        let steps = 600;
        for i in 1..=steps {
            let p = orbit.position(SimTime::from_secs_f64(step * f64::from(i)));
            let sin = prev.cross(p).dot(normal);
            let cos = prev.dot(p);
            swept += sin.atan2(cos);
            prev = p;
        }
        TAU * step * f64::from(steps) / swept
    }

    #[test]
    fn period_at_550_km_matches_kepler() {
        // T = 2π sqrt(a³/μ) with a = 6378.137 + 550 km: about 95.6 min.
        let a: f64 = 6_928_137.0;
        let kepler = TAU * (a.powi(3) / 3.986_004_418e14).sqrt();
        assert!((kepler / 60.0 - 95.6).abs() < 0.05, "{}", kepler / 60.0);
        let orbit = CircularOrbit::new(550e3, 53f64.to_radians(), 0.0, 0.0);
        let measured = measured_period(&orbit);
        assert!(
            (measured / kepler - 1.0).abs() < 1e-3,
            "measured {measured} s vs {kepler} s"
        );
    }

    #[test]
    fn sun_synchronous_node_drift_at_650_km() {
        // A dawn–dusk sun-synchronous orbit precesses with the mean Sun:
        // 360° per 365.2422 days = +0.9856°/day.
        let orbit = CircularOrbit::new(650e3, 98.0f64.to_radians(), 0.0, 0.0);
        let node = |t: f64| {
            let s = orbit.state(SimTime::from_secs_f64(t));
            let h = s.position.cross(s.velocity);
            // The ascending node lies along z × h.
            let n = Vec3::new(0.0, 0.0, 1.0).cross(h);
            n.y.atan2(n.x)
        };
        let day = 86_400.0;
        let drift = (node(day) - node(0.0)).to_degrees();
        assert!((drift / 0.9856 - 1.0).abs() < 0.02, "drift {drift}°/day");
    }

    #[test]
    fn walker_indices_and_intra_plane_spacing() {
        let shell = WalkerShell {
            planes: 72,
            per_plane: 22,
            phasing: 0,
            altitude_m: 550e3,
            inclination: 53f64.to_radians(),
            raan_spread: TAU,
        };
        let orbits = walker_shell(&shell);
        assert_eq!(orbits.len(), 1584);
        // Neighbours in a plane: chord 2a·sin(π/22) ≈ 1972 km.
        let a: f64 = 6_928_137.0;
        let chord = 2.0 * a * (std::f64::consts::PI / 22.0).sin();
        let d = (orbits[0].position(SimTime::ZERO) - orbits[1].position(SimTime::ZERO)).norm();
        assert!((d - chord).abs() < 1.0, "{d} vs {chord}");
        assert!((chord / 1e3 - 1972.0).abs() < 1.0);
        // Satellite 22 is slot 0 of plane 1: 5° further east in node.
        assert!((orbits[22].raan0 - 5f64.to_radians()).abs() < 1e-12);
    }

    #[test]
    fn sgp4_matches_vallado_verification_vector() {
        // Vallado, Crawford, Hujsak & Kelso, "Revisiting Spacetrack Report #3"
        // (AIAA 2006-6753), test case 00005, tcppver.out: TEME position (km).
        let elements = sgp4::Elements::from_tle(
            None,
            b"1 00005U 58002B   00179.78495062  .00000023  00000-0  28098-4 0  4753",
            b"2 00005  34.2682 348.7242 1859667 331.7664  19.3264 10.82419157413667",
        )
        .expect("valid TLE");
        let epoch = elements.datetime.and_utc();
        let orbit = TleOrbit::new(&elements, epoch).expect("propagates");
        let cases = [
            (0.0, [7022.46529266, -1400.08296755, 0.03995155]),
            (360.0, [-7154.03120202, -3783.17682504, -3536.19412294]),
            (720.0, [-7134.59340119, 6531.68641334, 3260.27186483]),
        ];
        for (minutes, km) in cases {
            let p = orbit.position(SimTime::from_secs_f64(minutes * 60.0));
            let expected = Vec3::new(km[0], km[1], km[2]) * 1e3;
            let err = (p - expected).norm();
            assert!(err < 1.0, "t={minutes} min: {err} m off");
        }
    }
}
