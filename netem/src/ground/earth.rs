//! The Earth: the WGS-84 ellipsoid, sidereal time, and the rotation between
//! the Earth-fixed frame and the inertial frame the orbits are given in.
//!
//! - Ellipsoid (NIMA TR8350.2, *World Geodetic System 1984*, 3rd ed., 2000):
//!   `a = 6 378 137 m`, `f = 1/298.257 223 563`, `e² = f (2 − f)`.
//!   A point at geodetic latitude `φ`, longitude `λ` and height `h` is, with
//!   the prime-vertical radius `N = a / sqrt(1 − e² sin² φ)`,
//!   `x = (N + h) cos φ cos λ`, `y = (N + h) cos φ sin λ`,
//!   `z = (N (1 − e²) + h) sin φ` (TR8350.2 eq. 4-14; Vallado, *Fundamentals
//!   of Astrodynamics and Applications*, 4th ed., eq. 3-14).
//! - Sidereal time: the IAU-82 Greenwich mean sidereal time (Aoki et al.
//!   1982) exactly as SGP4 uses it (Vallado's `gstime`, FoAA eq. 3-45; the
//!   `sgp4` crate's `iau_epoch_to_sidereal_time`). With `T` the Julian
//!   centuries of UT1 since J2000.0 (JD 2451545.0 = 2000-01-01 12:00 UT1),
//!   `θ[s] = 67310.54841 + (876600·3600 + 8640184.812866) T + 0.093104 T²
//!   − 6.2e-6 T³`, taken modulo one day of 86 400 s and turned into an
//!   angle at 2π per day.
//! - Rotation: the Earth-fixed (pseudo-Earth-fixed, PEF) position is the
//!   inertial one turned about z by `−θ`: `r_PEF = R3(θ) r_TEME` (Vallado's
//!   `teme2ecef`), and back.
//!
//! The frame. SGP4 gives positions in TEME (true equator, mean equinox of
//! date), so the rotation by GMST is the exact TEME → PEF step. The in-house
//! propagators ([`crate::orbit::CircularOrbit`], Walker shells, formations)
//! are taken to be in the same frame with the scenario epoch as their time
//! origin: a right ascension of the node `Ω` is measured from TEME's x axis
//! at the epoch, so the node's longitude over the Earth at the epoch is
//! `Ω − θ(epoch)`.
//!
//! Approximations, with their size:
//! - UT1 is taken equal to UTC. |UT1 − UTC| < 0.9 s by definition of UTC;
//!   0.9 s of rotation moves a point on the equator by 420 m. A caller that
//!   knows ΔUT1 may pass the UT1 instant.
//! - Polar motion is ignored (PEF is used as the Earth-fixed frame, not
//!   ITRF): about 15 m at the surface (16.5 m in Vallado's 2004 example).
//! - Leap seconds: `chrono` counts UTC without them, like the rest of orbnet.

use std::f64::consts::TAU;

use chrono::{DateTime, Utc};

use crate::geometry::Vec3;
use crate::units::SimTime;

/// WGS-84 semi-major (equatorial) axis, metres.
pub const WGS84_A: f64 = 6_378_137.0;
/// WGS-84 flattening.
pub const WGS84_F: f64 = 1.0 / 298.257_223_563;
/// WGS-84 first eccentricity squared, `f (2 − f)`.
pub const WGS84_E2: f64 = WGS84_F * (2.0 - WGS84_F);

/// Seconds in a day of UT1.
const SECONDS_PER_DAY: f64 = 86_400.0;
/// Seconds in a Julian century: 36 525 days.
const SECONDS_PER_CENTURY: f64 = 3_155_760_000.0;
/// J2000.0 (2000-01-01 12:00:00) in Unix seconds.
const J2000_UNIX_S: i64 = 946_728_000;

/// IAU-82 GMST polynomial, seconds of time: constant, linear (beyond one
/// turn per day), quadratic and cubic coefficients in Julian centuries.
const GMST_S: [f64; 4] = [67_310.548_41, 8_640_184.812_866, 0.093_104, -6.2e-6];

/// Rotation rate of the Earth-fixed frame relative to TEME at J2000, rad/s:
/// the rate of the IAU-82 GMST, `2π/86400 · (1 + 8640184.812866/3155760000)`
/// = 7.292 115 855e-5 rad/s. (It exceeds the IERS inertial rate
/// 7.292 115 147e-5 rad/s by the precession of the equinox.)
pub const EARTH_ROTATION_RATE: f64 =
    TAU / SECONDS_PER_DAY * (1.0 + GMST_S[1] / SECONDS_PER_CENTURY);

/// A geodetic position on the WGS-84 ellipsoid, checked on construction.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Geodetic {
    lat_deg: f64,
    lon_deg: f64,
    alt_m: f64,
}

/// Why a geodetic position is rejected.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum GeodeticError {
    #[error("latitude {0}° is outside [-90°, 90°]")]
    Latitude(f64),
    #[error("longitude {0}° is outside [-180°, 360°)")]
    Longitude(f64),
    #[error("altitude {0} m is outside [-12 km, 100 km]")]
    Altitude(f64),
}

impl Geodetic {
    /// Lowest accepted height, metres: below the deepest ocean floor.
    pub const MIN_ALT_M: f64 = -12_000.0;
    /// Highest accepted height, metres: the Kármán line.
    pub const MAX_ALT_M: f64 = 100_000.0;

    /// Latitude and longitude in degrees (east positive; either −180..180 or
    /// 0..360), height above the ellipsoid in metres. NaN is rejected.
    pub fn new(lat_deg: f64, lon_deg: f64, alt_m: f64) -> Result<Geodetic, GeodeticError> {
        if !(-90.0..=90.0).contains(&lat_deg) {
            return Err(GeodeticError::Latitude(lat_deg));
        }
        if !(-180.0..360.0).contains(&lon_deg) {
            return Err(GeodeticError::Longitude(lon_deg));
        }
        if !(Self::MIN_ALT_M..=Self::MAX_ALT_M).contains(&alt_m) {
            return Err(GeodeticError::Altitude(alt_m));
        }
        Ok(Geodetic {
            lat_deg,
            lon_deg,
            alt_m,
        })
    }

    pub fn lat_deg(self) -> f64 {
        self.lat_deg
    }

    pub fn lon_deg(self) -> f64 {
        self.lon_deg
    }

    pub fn alt_m(self) -> f64 {
        self.alt_m
    }
}

/// Earth-fixed Cartesian position of a geodetic point, metres.
pub fn geodetic_to_ecef(g: &Geodetic) -> Vec3 {
    let (sin_lat, cos_lat) = g.lat_deg.to_radians().sin_cos();
    let (sin_lon, cos_lon) = g.lon_deg.to_radians().sin_cos();
    let n = WGS84_A / (1.0 - WGS84_E2 * sin_lat * sin_lat).sqrt();
    let horizontal = (n + g.alt_m) * cos_lat;
    Vec3::new(
        horizontal * cos_lon,
        horizontal * sin_lon,
        (n * (1.0 - WGS84_E2) + g.alt_m) * sin_lat,
    )
}

/// Greenwich mean sidereal time (IAU-82, as SGP4), radians in [0, 2π).
///
/// The formula wants UT1; pass UTC when ΔUT1 is unknown (see the module
/// notes: at most 420 m at the equator).
pub fn gmst(t_ut1: DateTime<Utc>) -> f64 {
    let (seconds_of_day, centuries) = since_j2000(t_ut1);
    // The linear term 876600·3600·T is exactly one turn per day of 86 400 s,
    // so modulo a day it is the seconds elapsed in the current day.
    let c = centuries;
    let beyond = c * (GMST_S[1] + c * (GMST_S[2] + c * GMST_S[3]));
    let seconds = GMST_S[0] + seconds_of_day + beyond;
    seconds.rem_euclid(SECONDS_PER_DAY) / SECONDS_PER_DAY * TAU
}

/// Rate of [`gmst`] at `t_ut1`, rad/s.
pub fn gmst_rate(t_ut1: DateTime<Utc>) -> f64 {
    let (_, c) = since_j2000(t_ut1);
    let d_beyond = GMST_S[1] + c * (2.0 * GMST_S[2] + c * 3.0 * GMST_S[3]);
    TAU / SECONDS_PER_DAY * (1.0 + d_beyond / SECONDS_PER_CENTURY)
}

/// Seconds elapsed in the current day counted from 12:00 (J2000's time of
/// day), and Julian centuries since J2000.0. The split keeps full precision
/// in the first: a single count of days near 2.45 million resolves only
/// 40 µs.
fn since_j2000(t: DateTime<Utc>) -> (f64, f64) {
    let seconds = t.timestamp() - J2000_UNIX_S;
    let day = 86_400;
    let whole_days = seconds.div_euclid(day);
    let seconds_of_day =
        seconds.rem_euclid(day) as f64 + f64::from(t.timestamp_subsec_nanos()) * 1e-9;
    let centuries = (whole_days as f64 * SECONDS_PER_DAY + seconds_of_day) / SECONDS_PER_CENTURY;
    (seconds_of_day, centuries)
}

/// `v` turned by `angle` about z (counter-clockwise seen from +z).
fn rotate_z(v: Vec3, angle: f64) -> Vec3 {
    let (s, c) = angle.sin_cos();
    Vec3::new(c * v.x - s * v.y, s * v.x + c * v.y, v.z)
}

/// Earth-fixed (PEF) position to the inertial (TEME) frame at `t_ut1`.
pub fn ecef_to_inertial(r_ecef: Vec3, t_ut1: DateTime<Utc>) -> Vec3 {
    rotate_z(r_ecef, gmst(t_ut1))
}

/// Inertial (TEME) position to the Earth-fixed (PEF) frame at `t_ut1`.
pub fn inertial_to_ecef(r_inertial: Vec3, t_ut1: DateTime<Utc>) -> Vec3 {
    rotate_z(r_inertial, -gmst(t_ut1))
}

/// The Earth's orientation along a scenario: GMST at the epoch and its rate,
/// so that the angle at a [`SimTime`] costs one multiply-add.
///
/// Linearising GMST drops its quadratic term, `0.093104 s · ΔT²` with `ΔT`
/// in centuries: 9 µs of rotation (4 mm at the equator) after a year.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EarthRotation {
    gmst0: f64,
    rate: f64,
}

impl EarthRotation {
    /// The Earth's orientation for a scenario starting at `epoch` (UT1 ≈ UTC).
    pub fn new(epoch: DateTime<Utc>) -> EarthRotation {
        EarthRotation {
            gmst0: gmst(epoch),
            rate: gmst_rate(epoch),
        }
    }

    /// Greenwich mean sidereal time at `t`, radians in [0, 2π).
    pub fn gmst(&self, t: SimTime) -> f64 {
        (self.gmst0 + self.rate * t.as_secs_f64()).rem_euclid(TAU)
    }

    /// Earth-fixed position to the inertial frame at `t`.
    pub fn to_inertial(&self, r_ecef: Vec3, t: SimTime) -> Vec3 {
        rotate_z(r_ecef, self.gmst(t))
    }

    /// Inertial position to the Earth-fixed frame at `t`.
    pub fn to_ecef(&self, r_inertial: Vec3, t: SimTime) -> Vec3 {
        rotate_z(r_inertial, -self.gmst(t))
    }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeDelta};

    use super::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, ns: u32) -> DateTime<Utc> {
        NaiveDate::from_ymd_opt(y, mo, d)
            .and_then(|day| day.and_hms_nano_opt(h, mi, s, ns))
            .expect("valid date")
            .and_utc()
    }

    /// Vallado, Crawford, Hujsak & Kelso, "Revisiting Spacetrack Report #3"
    /// (AIAA 2006-6753), and Vallado FoAA Example 3-15 / Table 3-6: UTC
    /// 2004-04-06 07:51:28.386009 with ΔUT1 = −0.4399619 s.
    fn vallado_ut1() -> DateTime<Utc> {
        utc(2004, 4, 6, 7, 51, 28, 386_009_000) - TimeDelta::nanoseconds(439_961_900)
    }

    #[test]
    fn gmst_matches_vallado_2004_example() {
        // θ_GMST = 312.8098943° (Vallado FoAA Ex. 3-15).
        let theta = gmst(vallado_ut1()).to_degrees();
        assert!((theta - 312.809_894_3).abs() < 1e-6, "{theta}°");
    }

    #[test]
    fn teme_to_pef_matches_vallado_2004_example() {
        let r_teme = Vec3::new(5094.18016210, 6127.64465950, 6380.34453270) * 1e3;
        let r_pef = inertial_to_ecef(r_teme, vallado_ut1());
        let published = Vec3::new(-1033.4750312, 7901.3055856, 6380.3445327) * 1e3;
        // 9 mm remain: Vallado's JD_UT1 2453101.82740678310 is 12.7 µs after
        // the instant (7.4 mm of rotation at 7969 km), and a day count held
        // in one double resolves only about 40 µs.
        let err = (r_pef - published).norm();
        assert!(err < 0.05, "{err} m from Vallado's PEF vector");
        let back = ecef_to_inertial(r_pef, vallado_ut1());
        assert!((back - r_teme).norm() < 1e-6);
    }

    #[test]
    fn gmst_agrees_with_the_sgp4_crate() {
        // The sgp4 crate's own IAU-82 routine takes Julian years since J2000
        // in one double; agreement to 1e-9 rad (6 mm at 6378 km).
        for t in [
            utc(2000, 1, 1, 12, 0, 0, 0),
            utc(2026, 1, 1, 0, 0, 0, 0),
            utc(1987, 7, 14, 3, 25, 11, 500_000_000),
        ] {
            let years = (t.timestamp() - J2000_UNIX_S) as f64
                + f64::from(t.timestamp_subsec_nanos()) * 1e-9;
            let years = years / (365.25 * 86_400.0);
            let theirs = sgp4::iau_epoch_to_sidereal_time(years);
            let diff = (gmst(t) - theirs + TAU / 2.0).rem_euclid(TAU) - TAU / 2.0;
            assert!(diff.abs() < 1e-9, "{t}: {diff} rad");
        }
    }

    #[test]
    fn gmst_at_j2000_is_18h_41m_50s() {
        // GMST at 2000-01-01 12:00 UT1 is 18h 41m 50.54841s = 280.46061837°.
        let theta = gmst(utc(2000, 1, 1, 12, 0, 0, 0)).to_degrees();
        assert!((theta - 280.460_618_37).abs() < 1e-8, "{theta}°");
    }

    #[test]
    fn wgs84_equator_and_pole() {
        let equator = Geodetic::new(0.0, 0.0, 0.0).expect("valid");
        assert_eq!(geodetic_to_ecef(&equator), Vec3::new(WGS84_A, 0.0, 0.0));
        // Semi-minor axis b = a (1 − f) = 6 356 752.3142 m (TR8350.2 Table 3.3).
        let pole = Geodetic::new(90.0, 0.0, 0.0).expect("valid");
        let p = geodetic_to_ecef(&pole);
        assert!(p.x.abs() < 1e-6 && p.y.abs() < 1e-6);
        assert!((p.z - 6_356_752.314_2).abs() < 1e-3, "{}", p.z);
        // 90° east, 1 km up.
        let east = Geodetic::new(0.0, 90.0, 1_000.0).expect("valid");
        let e = geodetic_to_ecef(&east);
        assert!(e.x.abs() < 1e-6 && (e.y - 6_379_137.0).abs() < 1e-6);
    }

    #[test]
    fn height_is_along_the_normal() {
        // Raising a point by h moves it by h along (cos φ cos λ, cos φ sin λ, sin φ).
        let (lat, lon) = (51.5_f64, -0.13_f64);
        let low = geodetic_to_ecef(&Geodetic::new(lat, lon, 0.0).expect("valid"));
        let high = geodetic_to_ecef(&Geodetic::new(lat, lon, 1_000.0).expect("valid"));
        let (sl, cl) = lat.to_radians().sin_cos();
        let (so, co) = lon.to_radians().sin_cos();
        let normal = Vec3::new(cl * co, cl * so, sl);
        assert!((high - low - normal * 1_000.0).norm() < 1e-6);
    }

    #[test]
    fn out_of_range_positions_are_rejected() {
        assert_eq!(
            Geodetic::new(90.5, 0.0, 0.0),
            Err(GeodeticError::Latitude(90.5))
        );
        assert_eq!(
            Geodetic::new(0.0, 360.0, 0.0),
            Err(GeodeticError::Longitude(360.0))
        );
        assert_eq!(
            Geodetic::new(0.0, -180.5, 0.0),
            Err(GeodeticError::Longitude(-180.5))
        );
        assert_eq!(
            Geodetic::new(0.0, 0.0, 2e5),
            Err(GeodeticError::Altitude(2e5))
        );
        assert!(Geodetic::new(f64::NAN, 0.0, 0.0).is_err());
        assert!(Geodetic::new(0.0, f64::NAN, 0.0).is_err());
        assert!(Geodetic::new(0.0, 0.0, f64::NAN).is_err());
        assert!(Geodetic::new(-90.0, 359.9, -400.0).is_ok());
    }

    #[test]
    fn linearised_rotation_tracks_the_full_formula() {
        let epoch = utc(2026, 1, 1, 0, 0, 0, 0);
        let earth = EarthRotation::new(epoch);
        for days in [0.0, 0.37, 1.0, 30.0, 365.0] {
            let t = SimTime::from_secs_f64(days * 86_400.0);
            let exact = gmst(epoch + TimeDelta::nanoseconds(t.as_nanos() as i64));
            let diff = (earth.gmst(t) - exact + TAU / 2.0).rem_euclid(TAU) - TAU / 2.0;
            // 1e-9 rad is 6 mm at the equator; a year's drift is 0.68e-9 rad.
            assert!(diff.abs() < 1e-9, "{days} d: {diff} rad");
        }
        // The rate grows by 2·0.093104 s per century per century: 1.5e-11 by 2026.
        assert!((gmst_rate(epoch) / EARTH_ROTATION_RATE - 1.0).abs() < 1e-10);
    }
}
