//! Earth-fixed Cartesian positions to WGS-84 geodetic latitude, longitude
//! and height, for drawing nodes on the map.
//!
//! The inverse of `netem::ground::earth::geodetic_to_ecef` by fixed-point
//! iteration on the latitude (Vallado, *Fundamentals of Astrodynamics and
//! Applications*, 4th ed., Algorithm 12, in the form of Bowring's update):
//! with `p = sqrt(x² + y²)`, `λ = atan2(y, x)`, start from the geocentric
//! latitude and repeat `N = a / sqrt(1 − e² sin² φ)`,
//! `h = p / cos φ − N` (or `z / sin φ − N (1 − e²)` near the poles),
//! `φ = atan2(z, p (1 − e² N / (N + h)))`. Five rounds leave well under a
//! millimetre anywhere from the ground to geostationary height, far below
//! what a map shows.

use orbnet_netem::geometry::Vec3;
use orbnet_netem::ground::earth::{WGS84_A, WGS84_E2};

/// Rounds of the latitude iteration.
const ROUNDS: usize = 5;

/// Latitude and longitude in degrees (longitude in (−180°, 180°]) and height
/// above the ellipsoid in metres of an Earth-fixed position in metres.
pub(crate) fn from_ecef(r: Vec3) -> (f64, f64, f64) {
    let p = r.x.hypot(r.y);
    let lon = r.y.atan2(r.x);
    if p == 0.0 && r.z == 0.0 {
        return (0.0, lon.to_degrees(), -WGS84_A);
    }
    let mut lat = r.z.atan2(p * (1.0 - WGS84_E2));
    let mut h = 0.0;
    for _ in 0..ROUNDS {
        let (sin, cos) = lat.sin_cos();
        let n = WGS84_A / (1.0 - WGS84_E2 * sin * sin).sqrt();
        h = if cos.abs() > 1e-3 {
            p / cos - n
        } else {
            r.z / sin - n * (1.0 - WGS84_E2)
        };
        lat = r.z.atan2(p * (1.0 - WGS84_E2 * n / (n + h)));
    }
    (lat.to_degrees(), lon.to_degrees(), h)
}

#[cfg(test)]
mod tests {
    use orbnet_netem::ground::earth::{Geodetic, geodetic_to_ecef};

    use super::*;

    #[test]
    fn geodetic_positions_come_back_from_ecef() {
        // Heights beyond the Geodetic type's range are made by scaling the
        // normal: a point h above the ellipsoid is ecef(φ, λ, 0) + h·n̂.
        for (lat, lon) in [
            (0.0, 0.0),
            (51.5, -0.13),
            (-33.9, 151.2),
            (89.99, 45.0),
            (-90.0, 0.0),
        ] {
            for h in [0.0, 550e3, 1000e3, 35_786e3] {
                let ground = geodetic_to_ecef(&Geodetic::new(lat, lon, 0.0).expect("valid"));
                let (sl, cl) = f64::to_radians(lat).sin_cos();
                let (so, co) = f64::to_radians(lon).sin_cos();
                let r = ground + Vec3::new(cl * co, cl * so, sl) * h;
                let (la, lo, alt) = from_ecef(r);
                assert!((la - lat).abs() < 1e-9, "{lat} {lon} {h}: lat {la}");
                if lat.abs() < 90.0 {
                    assert!((lo - lon).abs() < 1e-9, "{lat} {lon} {h}: lon {lo}");
                }
                assert!((alt - h).abs() < 1e-3, "{lat} {lon} {h}: height {alt}");
            }
        }
    }
}
