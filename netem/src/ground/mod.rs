//! The ground segment's physics: where a station is, which satellites it
//! sees, when they pass, and whether its sky is clear.
//!
//! ```text
//! Geodetic ─► Station (ECEF + horizon axes, precomputed)
//!                │  EarthRotation: turn by GMST(epoch + t)
//!                ▼
//! Orbit::position(t) ─► look (elevation, azimuth, range) ─► Mask ─► passes
//!                                                 Sky (clear/blocked spells)
//! ```
//!
//! The frame: orbits are in an Earth-centred inertial frame, which for TLE
//! constellations is SGP4's TEME; Walker shells and formations are taken to
//! be in the same frame, with the scenario epoch as their time origin. A
//! station's Earth-fixed position turns into that frame by the Greenwich
//! mean sidereal time (IAU-82) of the epoch plus the virtual time, with UT1
//! taken as UTC ([`earth`] gives the formulas and the error budget).
//!
//! Everything here is a pure function of its inputs and of the virtual time
//! ([`SimTime`](crate::units::SimTime)), except [`weather::Sky`], whose
//! cursor only caches a deterministic, seeded sequence.

pub mod earth;
pub mod look;
pub mod passes;
pub mod segment;
pub mod station;
pub mod weather;

pub use earth::{EarthRotation, Geodetic, GeodeticError};
pub use look::{Look, Mask, MaskError, look, visible};
pub use passes::{Pass, passes};
pub use segment::{GroundSegment, GroundStation, GslKind, Handover, Policy, Rain, StationLinks};
pub use station::Station;
pub use weather::{Climate, ClimateError, Obscurant, Sky, Spell};
