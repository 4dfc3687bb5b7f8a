//! Formations: satellites in bounded relative motion around a reference orbit.
//!
//! Relative motion near a circular reference orbit of mean motion `n` follows
//! the Hill–Clohessy–Wiltshire equations, with `x` radial, `y` along-track and
//! `z` cross-track:
//!
//! ```text
//! x'' - 2n y' - 3n² x = 0,   y'' + 2n x' = 0,   z'' + n² z = 0
//! ```
//!
//! Their drift-free in-plane solution is the 2:1 ellipse
//! `x = ρ cos(nt + α)`, `y = -2ρ sin(nt + α)`. In the scaled coordinates
//! `(u, v) = (x, y/2)` every satellite turns on a circle at the same rate,
//! so a lattice laid out in `(u, v)` rotates rigidly once per orbit. A square
//! lattice of pitch `s` in `(u, v)` is a lattice of `s` radial × `2s`
//! along-track at the start; neighbours stay between `s` and `2s` apart, and
//! a satellite at scaled radius `ρ` reaches at most `2ρ` from the centre.
//!
//! Google's Suncatcher study (arXiv 2511.19468, 2025) uses this: 81
//! satellites within a 1 km radius, about 100 m radial × 200 m along-track.
//! With `s = 100 m` the lattice points inside a scaled radius of 500 m are
//! exactly 81.

use crate::geometry::Vec3;
use crate::orbit::{CircularOrbit, Orbit, State};
use crate::units::SimTime;

/// The shape of a lattice formation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lattice {
    pub count: u32,
    /// Radial pitch, metres (along-track pitch is twice this).
    pub spacing_m: f64,
    /// Largest distance from the reference a satellite may reach, metres.
    pub radius_m: f64,
}

/// Why a lattice cannot be built.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LatticeError {
    #[error("only {fits} satellites fit within the radius at this spacing (asked for {asked})")]
    TooMany { fits: usize, asked: u32 },
}

/// One satellite of a formation: an HCW ellipse about the reference orbit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FormationOrbit {
    reference: CircularOrbit,
    /// Scaled radius ρ, metres.
    rho: f64,
    /// Phase α, rad.
    phase: f64,
    /// Cross-track offset, metres (constant amplitude oscillation; 0 here).
    cross: f64,
}

impl FormationOrbit {
    /// The satellite at scaled lattice point `(u, v)` at the epoch.
    pub fn at_lattice_point(reference: CircularOrbit, u: f64, v: f64) -> FormationOrbit {
        FormationOrbit {
            reference,
            rho: u.hypot(v),
            phase: (-v).atan2(u),
            cross: 0.0,
        }
    }

    /// Hill-frame offset (radial, along-track, cross-track) at `t`, metres.
    pub fn hill_offset(&self, t: SimTime) -> Vec3 {
        let theta = self.reference.arg_lat_rate() * t.as_secs_f64() + self.phase;
        let (s, c) = theta.sin_cos();
        Vec3::new(self.rho * c, -2.0 * self.rho * s, self.cross * c)
    }
}

impl Orbit for FormationOrbit {
    fn state(&self, t: SimTime) -> State {
        let reference = self.reference.state(t);
        let r_hat = reference.position.unit();
        let n_hat = reference.position.cross(reference.velocity).unit();
        let t_hat = n_hat.cross(r_hat);
        let h = self.hill_offset(t);
        let n = self.reference.arg_lat_rate();
        let theta = n * t.as_secs_f64() + self.phase;
        let (s, c) = theta.sin_cos();
        // Relative velocity in the Hill frame; the frame's own rotation is left
        // out (it only matters for pointing, not for distances).
        let dv = r_hat * (-n * self.rho * s) + t_hat * (-2.0 * n * self.rho * c);
        State {
            position: reference.position + r_hat * h.x + t_hat * h.y + n_hat * h.z,
            velocity: reference.velocity + dv,
        }
    }
}

/// Lattice points `(u, v)` in scaled coordinates, nearest the centre first
/// (ties broken by angle), `count` of them.
pub fn lattice_points(lattice: &Lattice) -> Result<Vec<(f64, f64)>, LatticeError> {
    let s = lattice.spacing_m;
    // A scaled radius ρ reaches 2ρ from the centre.
    let max_rho = lattice.radius_m / 2.0;
    let reach = (max_rho / s).floor() as i64;
    let mut points = Vec::new();
    for i in -reach..=reach {
        for j in -reach..=reach {
            let (u, v) = (i as f64 * s, j as f64 * s);
            if u.hypot(v) <= max_rho * (1.0 + 1e-9) {
                points.push((u, v));
            }
        }
    }
    if points.len() < lattice.count as usize {
        return Err(LatticeError::TooMany {
            fits: points.len(),
            asked: lattice.count,
        });
    }
    points.sort_by(|a, b| {
        let ra = a.0.hypot(a.1);
        let rb = b.0.hypot(b.1);
        ra.total_cmp(&rb)
            .then(a.1.atan2(a.0).total_cmp(&b.1.atan2(b.0)))
    });
    points.truncate(lattice.count as usize);
    // Row-major order (radial, then along-track) so indices read like a grid.
    points.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    Ok(points)
}

/// The orbits of a lattice formation around `reference`.
pub fn formation(
    reference: CircularOrbit,
    lattice: &Lattice,
) -> Result<Vec<FormationOrbit>, LatticeError> {
    Ok(lattice_points(lattice)?
        .into_iter()
        .map(|(u, v)| FormationOrbit::at_lattice_point(reference, u, v))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn suncatcher() -> Vec<FormationOrbit> {
        let reference = CircularOrbit::new(650e3, 97.98f64.to_radians(), 0.0, 0.0);
        formation(
            reference,
            &Lattice {
                count: 81,
                spacing_m: 100.0,
                radius_m: 1000.0,
            },
        )
        .expect("81 fit")
    }

    #[test]
    fn hcw_ellipse_satisfies_the_equations() {
        // Finite differences of the Hill offset satisfy x'' - 2n y' - 3n² x = 0 and y'' + 2n x' = 0.
        let reference = CircularOrbit::new(650e3, 1.7, 0.0, 0.0);
        let f = FormationOrbit::at_lattice_point(reference, 300.0, -200.0);
        let n = reference.arg_lat_rate();
        let h = 1.0;
        let at = |s: f64| f.hill_offset(SimTime::from_secs_f64(s));
        let t0 = 1234.0;
        let (a, b, c) = (at(t0 - h), at(t0), at(t0 + h));
        let xd = (c.x - a.x) / (2.0 * h);
        let yd = (c.y - a.y) / (2.0 * h);
        let xdd = (c.x - 2.0 * b.x + a.x) / (h * h);
        let ydd = (c.y - 2.0 * b.y + a.y) / (h * h);
        assert!((xdd - 2.0 * n * yd - 3.0 * n * n * b.x).abs() < 1e-6);
        assert!((ydd + 2.0 * n * xd).abs() < 1e-6);
    }

    #[test]
    fn formation_stays_within_its_radius_over_an_orbit() {
        let sats = suncatcher();
        assert_eq!(sats.len(), 81);
        let reference = CircularOrbit::new(650e3, 97.98f64.to_radians(), 0.0, 0.0);
        // One orbit of 97.7 min, sampled every minute.
        for minute in 0..=98 {
            let t = SimTime::from_secs_f64(60.0 * f64::from(minute));
            let centre = reference.position(t);
            let mut positions = Vec::new();
            for s in &sats {
                let p = s.position(t);
                let r = (p - centre).norm();
                // 1 km plus 1 m for the linearisation of HCW.
                assert!(r <= 1001.0, "{r} m from the centre at minute {minute}");
                positions.push(p);
            }
            // Every satellite's nearest neighbour is 100–200 m away.
            for (i, p) in positions.iter().enumerate() {
                let nearest = positions
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, q)| (*p - *q).norm())
                    .fold(f64::INFINITY, f64::min);
                assert!((99.0..=201.0).contains(&nearest), "nearest {nearest} m");
            }
        }
    }

    #[test]
    fn too_many_satellites_for_the_radius_is_an_error() {
        let e = lattice_points(&Lattice {
            count: 82,
            spacing_m: 100.0,
            radius_m: 1000.0,
        });
        assert_eq!(
            e,
            Err(LatticeError::TooMany {
                fits: 81,
                asked: 82
            })
        );
    }
}
