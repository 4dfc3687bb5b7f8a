//! Look angles: where a satellite is in a ground station's sky.
//!
//! With `ρ` the vector from the station to the satellite in Earth-fixed
//! coordinates and `(e, n, u)` its components along the station's east,
//! north and up axes ([`super::station`]):
//! - slant range `d = |ρ|`,
//! - elevation `ε = asin(u / d)`, from the geodetic horizon,
//! - azimuth `A = atan2(e, n)`, clockwise from north, in [0°, 360°)
//!
//! (Vallado, FoAA 4th ed., §4.4, algorithm 27 `RAZEL`). A satellite is
//! visible when `ε ≥ ε_min` and `d ≤ d_max`. For a sphere of radius `R` and
//! a satellite at height `h`, the range at elevation `ε` is
//! `d = sqrt((R+h)² − R² cos² ε) − R sin ε` (Wertz & Larson, *Space Mission
//! Analysis and Design*, 3rd ed., §5.2), so a range limit is an elevation
//! limit in disguise for one shell: Hypatia's 1089.7 km for Starlink at
//! 550 km is ε ≈ 26.2° (Kassing et al., IMC 2020).

use super::station::Station;
use crate::geometry::Vec3;
use crate::units::{Meters, SimTime};

/// A satellite's direction and distance from a station.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Look {
    /// Above the geodetic horizon, degrees in [−90, 90].
    pub elevation_deg: f64,
    /// Clockwise from north, degrees in [0, 360).
    pub azimuth_deg: f64,
    pub range: Meters,
}

/// When a station can use a satellite: high enough and near enough.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mask {
    min_elevation_deg: f64,
    max_range: Meters,
    /// `sin ε_min`, for [`Mask::clearly_below`].
    sin_min: f64,
}

/// Why a mask is rejected.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MaskError {
    #[error("minimum elevation {0}° is outside [-90°, 90°]")]
    Elevation(f64),
    #[error("maximum range {0} m is not positive")]
    Range(f64),
}

impl Mask {
    /// A mask of `min_elevation_deg` and, if given, a largest slant range.
    pub fn new(min_elevation_deg: f64, max_range: Option<Meters>) -> Result<Mask, MaskError> {
        if !(-90.0..=90.0).contains(&min_elevation_deg) {
            return Err(MaskError::Elevation(min_elevation_deg));
        }
        let max_range = max_range.unwrap_or(Meters(f64::INFINITY));
        if max_range.0.is_nan() || max_range.0 <= 0.0 {
            return Err(MaskError::Range(max_range.0));
        }
        Ok(Mask {
            min_elevation_deg,
            max_range,
            sin_min: min_elevation_deg.to_radians().sin(),
        })
    }

    pub fn min_elevation_deg(&self) -> f64 {
        self.min_elevation_deg
    }

    /// The largest slant range (infinite when there is none).
    pub fn max_range(&self) -> Meters {
        self.max_range
    }

    /// Whether a satellite at Earth-fixed `sat_ecef` is below the mask's
    /// elevation by a clear margin, from its range and the up component of
    /// its direction alone (`ε ≥ ε_min ⟺ u/d ≥ sin ε_min`): no
    /// trigonometry, so a station passes over the thousands of satellites
    /// below its horizon cheaply. It never rejects a look whose elevation
    /// [`Mask::admits`] accepts: the margin (1e-9 in sine, some 0.2 mm at
    /// 2000 km) covers the rounding of the angles.
    pub(crate) fn clearly_below(&self, station: &Station, sat_ecef: Vec3) -> bool {
        let enu = station.enu(sat_ecef);
        let range = (enu.east * enu.east + enu.north * enu.north + enu.up * enu.up).sqrt();
        range > 0.0 && enu.up < range * (self.sin_min - 1e-9)
    }

    /// Whether `look` passes the mask.
    pub fn admits(&self, look: &Look) -> bool {
        self.margin(look) >= 0.0
    }

    /// A continuous function of the look that is non-negative exactly when
    /// the mask admits it: the smaller of the elevation margin in degrees and
    /// the range margin in kilometres. Pass search brackets its zeros.
    pub(crate) fn margin(&self, look: &Look) -> f64 {
        let elevation = look.elevation_deg - self.min_elevation_deg;
        let range = (self.max_range.0 - look.range.0) / 1e3;
        elevation.min(range)
    }
}

/// Look angles of a satellite at inertial position `sat` at instant `t`.
pub fn look(station: &Station, sat: Vec3, t: SimTime) -> Look {
    look_ecef(station, station.earth().to_ecef(sat, t))
}

/// Look angles of a satellite at Earth-fixed position `sat_ecef`.
pub fn look_ecef(station: &Station, sat_ecef: Vec3) -> Look {
    let enu = station.enu(sat_ecef);
    let range = (enu.east * enu.east + enu.north * enu.north + enu.up * enu.up).sqrt();
    let elevation_deg = if range > 0.0 {
        (enu.up / range).clamp(-1.0, 1.0).asin().to_degrees()
    } else {
        90.0
    };
    Look {
        elevation_deg,
        azimuth_deg: enu.east.atan2(enu.north).to_degrees().rem_euclid(360.0),
        range: Meters(range),
    }
}

/// Whether a satellite at inertial position `sat` passes `mask` at `t`.
pub fn visible(station: &Station, sat: Vec3, t: SimTime, mask: &Mask) -> bool {
    mask.admits(&look(station, sat, t))
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, NaiveDate, Utc};

    use super::*;
    use crate::ground::earth::{Geodetic, WGS84_A};

    fn epoch() -> DateTime<Utc> {
        NaiveDate::from_ymd_opt(2026, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .expect("valid date")
            .and_utc()
    }

    fn station(lat: f64, lon: f64, alt: f64) -> Station {
        Station::new(Geodetic::new(lat, lon, alt).expect("valid"), epoch())
    }

    #[test]
    fn a_satellite_straight_up_is_at_90_degrees_and_its_height() {
        let h = 550e3;
        for (lat, lon) in [(0.0, 0.0), (45.0, 7.0), (-78.2, 200.0)] {
            let s = station(lat, lon, 120.0);
            let (sl, cl) = f64::to_radians(lat).sin_cos();
            let (so, co) = f64::to_radians(lon).sin_cos();
            let normal = Vec3::new(cl * co, cl * so, sl);
            let sat_ecef = s.ecef() + normal * h;
            // Through the inertial frame at an arbitrary instant.
            let t = SimTime::from_secs_f64(12_345.6);
            let l = look(&s, s.earth().to_inertial(sat_ecef, t), t);
            assert!((l.elevation_deg - 90.0).abs() < 1e-4, "{l:?}");
            assert!((l.range.0 - h).abs() < 1.0, "{l:?}");
        }
    }

    #[test]
    fn range_at_elevation_matches_the_spherical_formula() {
        // The ellipsoid's equator is a circle of radius a, and a station on it
        // at sea level has a radial normal: in the equatorial plane the
        // spherical formula holds exactly. Put the satellite east of it.
        let s = station(0.0, 0.0, 0.0);
        let (r, h) = (WGS84_A, 550e3);
        for eps_deg in [0.0_f64, 10.0, 25.0, 40.0, 70.0] {
            let eps = eps_deg.to_radians();
            // Earth central angle λ = arccos(R cos ε / (R+h)) − ε.
            let lambda = (r * eps.cos() / (r + h)).acos() - eps;
            let sat = Vec3::new((r + h) * lambda.cos(), (r + h) * lambda.sin(), 0.0);
            let l = look_ecef(&s, sat);
            let d = ((r + h).powi(2) - (r * eps.cos()).powi(2)).sqrt() - r * eps.sin();
            assert!((l.range.0 - d).abs() < 1.0, "ε={eps_deg}: {l:?} vs {d}");
            assert!((l.elevation_deg - eps_deg).abs() < 1e-6, "{l:?}");
            assert!((l.azimuth_deg - 90.0).abs() < 1e-6, "{l:?}");
        }
        // Starlink at 550 km and 25°: 1123.4 km (Wertz & Larson form).
        let d25 = ((r + h).powi(2) - (r * 25f64.to_radians().cos()).powi(2)).sqrt()
            - r * 25f64.to_radians().sin();
        assert!((d25 / 1e3 - 1123.4).abs() < 0.1);
    }

    #[test]
    fn azimuth_points_north_and_west() {
        let s = station(0.0, 0.0, 0.0);
        let north = look_ecef(&s, Vec3::new(WGS84_A + 100e3, 0.0, 500e3));
        assert!(north.azimuth_deg.abs() < 1e-9 || (north.azimuth_deg - 360.0).abs() < 1e-9);
        let west = look_ecef(&s, Vec3::new(WGS84_A + 100e3, -500e3, 0.0));
        assert!((west.azimuth_deg - 270.0).abs() < 1e-9, "{west:?}");
        let below = look_ecef(&s, Vec3::new(-WGS84_A, 0.0, 0.0));
        assert!((below.elevation_deg + 90.0).abs() < 1e-9);
    }

    #[test]
    fn mask_takes_elevation_and_range() {
        let s = station(0.0, 0.0, 0.0);
        let t = SimTime::ZERO;
        let overhead = s
            .earth()
            .to_inertial(Vec3::new(WGS84_A + 550e3, 0.0, 0.0), t);
        let low = Mask::new(25.0, None).expect("valid");
        assert!(visible(&s, overhead, t, &low));
        let short = Mask::new(25.0, Some(Meters::from_km(500.0))).expect("valid");
        assert!(!visible(&s, overhead, t, &short));
        assert_eq!(Mask::new(91.0, None), Err(MaskError::Elevation(91.0)));
        assert_eq!(
            Mask::new(0.0, Some(Meters(0.0))),
            Err(MaskError::Range(0.0))
        );
        assert!(Mask::new(0.0, Some(Meters(f64::NAN))).is_err());
    }
}
