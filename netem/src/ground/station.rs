//! A ground station: a fixed point on the WGS-84 ellipsoid, carried round by
//! the Earth.
//!
//! Its Earth-fixed position and its local east–north–up axes are computed
//! once; at an instant only the rotation by sidereal time is applied (see
//! [`super::earth`] for the frame). The up axis is the ellipsoid normal
//! `(cos φ cos λ, cos φ sin λ, sin φ)`, east is `(−sin λ, cos λ, 0)` and north
//! is `up × east` = `(−sin φ cos λ, −sin φ sin λ, cos φ)` (Vallado, FoAA 4th
//! ed., §4.4, the SEZ/ENU topocentric frame), so elevations are measured from
//! the geodetic horizon, as a station's antenna mount is.

use chrono::{DateTime, Utc};

use super::earth::{EarthRotation, Geodetic, geodetic_to_ecef};
use crate::geometry::Vec3;
use crate::units::SimTime;

/// A station's position and horizon axes, and the Earth's rotation since the
/// scenario epoch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Station {
    geodetic: Geodetic,
    ecef: Vec3,
    east: Vec3,
    north: Vec3,
    up: Vec3,
    earth: EarthRotation,
}

/// A vector in a station's horizon frame, metres.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Enu {
    pub(crate) east: f64,
    pub(crate) north: f64,
    pub(crate) up: f64,
}

impl Station {
    /// A station at `geodetic` in a scenario whose time starts at `epoch`.
    pub fn new(geodetic: Geodetic, epoch: DateTime<Utc>) -> Station {
        let (sin_lat, cos_lat) = geodetic.lat_deg().to_radians().sin_cos();
        let (sin_lon, cos_lon) = geodetic.lon_deg().to_radians().sin_cos();
        Station {
            geodetic,
            ecef: geodetic_to_ecef(&geodetic),
            east: Vec3::new(-sin_lon, cos_lon, 0.0),
            north: Vec3::new(-sin_lat * cos_lon, -sin_lat * sin_lon, cos_lat),
            up: Vec3::new(cos_lat * cos_lon, cos_lat * sin_lon, sin_lat),
            earth: EarthRotation::new(epoch),
        }
    }

    pub fn geodetic(&self) -> Geodetic {
        self.geodetic
    }

    /// Earth-fixed position, metres.
    pub fn ecef(&self) -> Vec3 {
        self.ecef
    }

    /// The Earth's orientation this station turns with.
    pub fn earth(&self) -> EarthRotation {
        self.earth
    }

    /// Inertial position at `t`, metres: the frame of [`crate::orbit::Orbit`].
    pub fn position(&self, t: SimTime) -> Vec3 {
        self.earth.to_inertial(self.ecef, t)
    }

    /// The Earth-fixed point `r_ecef` seen from the station, in its horizon axes.
    pub(crate) fn enu(&self, r_ecef: Vec3) -> Enu {
        let d = r_ecef - self.ecef;
        Enu {
            east: d.dot(self.east),
            north: d.dot(self.north),
            up: d.dot(self.up),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::ground::earth::WGS84_A;

    fn epoch() -> DateTime<Utc> {
        NaiveDate::from_ymd_opt(2026, 3, 20)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .expect("valid date")
            .and_utc()
    }

    #[test]
    fn a_station_comes_back_after_a_sidereal_day_not_a_solar_day() {
        let station = Station::new(Geodetic::new(0.0, 10.0, 0.0).expect("valid"), epoch());
        let start = station.position(SimTime::ZERO);
        // Sidereal day: 23 h 56 m 4.0905 s = 86 164.0905 s.
        let sidereal = station.position(SimTime::from_secs_f64(86_164.090_5));
        let back = (sidereal - start).norm();
        assert!(back < 0.1, "{back} m");
        // A solar day later the Earth has turned 360.9856° (one extra turn per
        // tropical year of 365.2422 days): a chord of 2a·sin(0.9856°/2) =
        // 109.7 km at the equator...
        let solar = station.position(SimTime::from_secs_f64(86_400.0));
        let extra = std::f64::consts::TAU / 365.242_2;
        let chord = 2.0 * WGS84_A * (extra / 2.0).sin();
        let moved = (solar - start).norm();
        assert!((moved - chord).abs() < 50.0, "{moved} m vs {chord} m");
        // ...which is the 236 s of extra turning at 465.1 m/s.
        assert!((moved - 235.9 * 465.1).abs() < 200.0, "{moved} m");
    }

    #[test]
    fn horizon_axes_are_orthonormal_and_right_handed() {
        let s = Station::new(Geodetic::new(-33.9, 18.4, 10.0).expect("valid"), epoch());
        for (a, b) in [(s.east, s.north), (s.north, s.up), (s.up, s.east)] {
            assert!(a.dot(b).abs() < 1e-12);
            assert!((a.norm() - 1.0).abs() < 1e-12);
        }
        assert!((s.east.cross(s.north) - s.up).norm() < 1e-12);
    }

    #[test]
    fn position_keeps_height_and_latitude() {
        let s = Station::new(Geodetic::new(45.0, 100.0, 0.0).expect("valid"), epoch());
        for hours in [0.0, 5.0, 13.0] {
            let p = s.position(SimTime::from_secs_f64(hours * 3600.0));
            assert!((p.norm() - s.ecef().norm()).abs() < 1e-6);
            assert!((p.z - s.ecef().z).abs() < 1e-9);
        }
    }
}
