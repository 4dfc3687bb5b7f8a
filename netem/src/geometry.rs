//! Geometry: vectors in an Earth-centred inertial frame (metres), distance,
//! and line of sight past the Earth.
//!
//! A link between two satellites is blocked when the straight segment
//! between them passes closer to the Earth's centre than the Earth's radius
//! plus a grazing margin (80 km by default, to keep the beam above the
//! atmosphere, as Hypatia does: Kassing et al., IMC 2020). The Earth is a
//! sphere of the WGS-84 equatorial radius here; the flattening (21 km at the
//! poles) is well inside the margin.

use std::ops::{Add, Mul, Sub};

use crate::units::Meters;

/// WGS-84 equatorial radius, metres.
pub const EARTH_RADIUS_M: f64 = 6_378_137.0;

/// A vector in metres (or metres per second for velocities).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Vec3 {
    pub x: f64,
    pub y: f64,
    pub z: f64,
}

impl Vec3 {
    pub const fn new(x: f64, y: f64, z: f64) -> Vec3 {
        Vec3 { x, y, z }
    }

    pub fn dot(self, o: Vec3) -> f64 {
        self.x * o.x + self.y * o.y + self.z * o.z
    }

    pub fn cross(self, o: Vec3) -> Vec3 {
        Vec3::new(
            self.y * o.z - self.z * o.y,
            self.z * o.x - self.x * o.z,
            self.x * o.y - self.y * o.x,
        )
    }

    pub fn norm(self) -> f64 {
        self.dot(self).sqrt()
    }

    /// The unit vector along `self` (zero stays zero).
    pub fn unit(self) -> Vec3 {
        let n = self.norm();
        if n > 0.0 { self * (1.0 / n) } else { self }
    }
}

impl Add for Vec3 {
    type Output = Vec3;
    fn add(self, o: Vec3) -> Vec3 {
        Vec3::new(self.x + o.x, self.y + o.y, self.z + o.z)
    }
}

impl Sub for Vec3 {
    type Output = Vec3;
    fn sub(self, o: Vec3) -> Vec3 {
        Vec3::new(self.x - o.x, self.y - o.y, self.z - o.z)
    }
}

impl Mul<f64> for Vec3 {
    type Output = Vec3;
    fn mul(self, k: f64) -> Vec3 {
        Vec3::new(self.x * k, self.y * k, self.z * k)
    }
}

/// Straight-line distance between two points.
pub fn distance(a: Vec3, b: Vec3) -> Meters {
    Meters((a - b).norm())
}

/// Smallest distance from the Earth's centre to the segment `a`–`b`.
pub fn segment_clearance(a: Vec3, b: Vec3) -> Meters {
    let ab = b - a;
    let len2 = ab.dot(ab);
    if len2 == 0.0 {
        return Meters(a.norm());
    }
    // Parameter of the point on the line closest to the origin, clamped to the segment.
    let t = (-a.dot(ab) / len2).clamp(0.0, 1.0);
    Meters((a + ab * t).norm())
}

/// Whether the segment `a`–`b` stays at least `grazing` above the Earth's surface.
pub fn line_of_sight(a: Vec3, b: Vec3, grazing: Meters) -> bool {
    segment_clearance(a, b).0 >= EARTH_RADIUS_M + grazing.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_in_sight_link_at_550_km_with_80_km_margin() {
        // Two satellites at 550 km whose chord just grazes 80 km altitude:
        // each is sqrt((R+550)^2 - (R+80)^2) from the tangent point
        // (Pythagoras), about 2508 km, so the link is about 5017 km.
        let r = EARTH_RADIUS_M;
        let (h, g) = (550e3, 80e3);
        let half = ((r + h).powi(2) - (r + g).powi(2)).sqrt();
        assert!(
            (2.0 * half / 1e3 - 5017.0).abs() < 1.0,
            "{}",
            2.0 * half / 1e3
        );
        // Place them symmetrically about the x axis at clearance R + g.
        let a = Vec3::new(r + g, half, 0.0);
        let b = Vec3::new(r + g, -half, 0.0);
        assert!((segment_clearance(a, b).0 - (r + g)).abs() < 1e-6);
        // Nudged 1 km further apart around the Earth, the chord dips below the margin.
        let angle = (half / (r + h)).asin() + 1e3 / (r + h);
        let a2 = Vec3::new((r + h) * angle.cos(), (r + h) * angle.sin(), 0.0);
        let b2 = Vec3::new((r + h) * angle.cos(), -(r + h) * angle.sin(), 0.0);
        assert!(!line_of_sight(a2, b2, Meters(g)));
        let angle = (half / (r + h)).asin() - 1e3 / (r + h);
        let a3 = Vec3::new((r + h) * angle.cos(), (r + h) * angle.sin(), 0.0);
        let b3 = Vec3::new((r + h) * angle.cos(), -(r + h) * angle.sin(), 0.0);
        assert!(line_of_sight(a3, b3, Meters(g)));
    }

    #[test]
    fn opposite_sides_of_the_earth_are_blocked() {
        let a = Vec3::new(7e6, 0.0, 0.0);
        let b = Vec3::new(-7e6, 0.0, 0.0);
        assert!(!line_of_sight(a, b, Meters(0.0)));
        assert_eq!(distance(a, b), Meters(14e6));
    }
}
