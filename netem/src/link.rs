//! The optical link: delay, rate and loss as functions of distance.
//!
//! - Delay: `d / c`, light in vacuum (c = 299 792.458 km/s, 3.336 µs/km).
//! - Rate: either fixed at the terminal's rate, or from received power of a
//!   Gaussian beam. The beam leaves an aperture of diameter `D` with waist
//!   `w0 = D/2` and spreads as `w(z) = w0 sqrt(1 + (z/zR)²)` with Rayleigh
//!   range `zR = π w0² / λ`. On-axis intensity, hence the power a receiver
//!   of fixed aperture collects, scales as `1 / (1 + (z/zR)²)`: nearly flat
//!   inside `zR`, falling as `1/z²` beyond (the far-field Friis form
//!   `P_r/P_t ∝ (π Dt Dr / (4 λ R))²`). A 10 cm aperture at 1550 nm gives
//!   `zR ≈ 5 km`. The terminal is assumed to close its link budget at full
//!   rate up to `full_rate_range`; beyond it the rate scales with received
//!   power (photon-limited detection: a fixed number of photons per bit).
//! - Loss: a bit error rate `p` gives a packet error rate
//!   `1 - (1 - p)^(8 L)` for an `L`-byte packet; an extra fixed loss and a
//!   Gilbert–Elliott burst channel may be added (applied in the shaper).

use crate::units::{BitsPerSecond, Bytes, Meters, SimDuration};

/// Speed of light in vacuum, m/s (exact, SI).
pub const SPEED_OF_LIGHT: f64 = 299_792_458.0;

/// Propagation delay over `d` in vacuum.
pub fn propagation_delay(d: Meters) -> SimDuration {
    SimDuration::from_secs_f64(d.0 / SPEED_OF_LIGHT)
}

/// How a link's rate depends on its length.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RateModel {
    /// The terminal's rate at any range.
    Fixed,
    /// Received power of a Gaussian beam, capped by the terminal's rate.
    GaussianBeam {
        aperture: Meters,
        wavelength: Meters,
        /// Range up to which the link budget closes at the terminal's rate.
        full_rate_range: Meters,
    },
}

impl RateModel {
    /// Rayleigh range of the beam, if the model has one.
    pub fn rayleigh_range(&self) -> Option<Meters> {
        match *self {
            RateModel::Fixed => None,
            RateModel::GaussianBeam {
                aperture,
                wavelength,
                ..
            } => {
                let w0 = aperture.0 / 2.0;
                Some(Meters(std::f64::consts::PI * w0 * w0 / wavelength.0))
            }
        }
    }

    /// Rate of a link `d` long whose terminals run at `terminal_rate`.
    pub fn rate(&self, terminal_rate: BitsPerSecond, d: Meters) -> BitsPerSecond {
        match *self {
            RateModel::Fixed => terminal_rate,
            RateModel::GaussianBeam {
                full_rate_range, ..
            } => {
                let zr = self.rayleigh_range().map_or(1.0, |z| z.0);
                let power = |z: f64| 1.0 / (1.0 + (z / zr).powi(2));
                let ratio = (power(d.0) / power(full_rate_range.0)).min(1.0);
                BitsPerSecond((terminal_rate.0 as f64 * ratio).floor() as u64)
            }
        }
    }
}

/// Packet error rate of an `len`-byte packet at bit error rate `ber`.
pub fn packet_error_rate(ber: f64, len: Bytes) -> f64 {
    if ber <= 0.0 {
        return 0.0;
    }
    if ber >= 1.0 {
        return 1.0;
    }
    let bits = len.0 as f64 * 8.0;
    // 1 - (1 - ber)^bits, computed without cancellation for tiny ber.
    -(bits * (-ber).ln_1p()).exp_m1()
}

/// Two-state Markov burst loss (Gilbert–Elliott): in the good state packets
/// are lost with `loss_good`, in the bad state with `loss_bad`; each packet
/// moves good → bad with `p_good_bad` and bad → good with `p_bad_good`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GilbertElliott {
    pub p_good_bad: f64,
    pub p_bad_good: f64,
    pub loss_good: f64,
    pub loss_bad: f64,
}

impl GilbertElliott {
    /// Long-run loss rate: the stationary share of the bad state is
    /// `p_gb / (p_gb + p_bg)`.
    pub fn mean_loss(&self) -> f64 {
        let denom = self.p_good_bad + self.p_bad_good;
        if denom <= 0.0 {
            return self.loss_good;
        }
        let bad = self.p_good_bad / denom;
        bad * self.loss_bad + (1.0 - bad) * self.loss_good
    }
}

/// Everything about the links of a scenario that does not depend on geometry.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkModel {
    pub terminal_rate: BitsPerSecond,
    pub rate_model: RateModel,
    pub mtu: Bytes,
    pub ber: f64,
    /// Extra independent loss per packet, on top of bit errors.
    pub loss: f64,
    pub burst: Option<GilbertElliott>,
    pub grazing: Meters,
    pub max_range: Meters,
    /// Pointing, acquisition and tracking time before a new link carries traffic.
    pub acquisition: SimDuration,
    /// Optical terminals per satellite: the most links a satellite can hold.
    pub terminals: u32,
    /// Egress queue limit per link direction.
    pub queue: Bytes,
}

impl LinkModel {
    /// Loss probability of an `len`-byte packet outside bursts.
    pub fn packet_loss(&self, len: Bytes) -> f64 {
        let per = packet_error_rate(self.ber, len);
        1.0 - (1.0 - per) * (1.0 - self.loss)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_is_distance_over_c() {
        // Starlink shell-1 intra-plane neighbours, 1972 km: 6.58 ms.
        let d = propagation_delay(Meters::from_km(1972.0));
        assert!((d.as_millis_f64() - 6.578).abs() < 0.001, "{d}");
        // A Suncatcher hop of 100 m: 0.334 µs.
        assert_eq!(propagation_delay(Meters(100.0)).as_nanos(), 334);
    }

    #[test]
    fn rayleigh_range_of_a_10_cm_aperture_at_1550_nm() {
        let m = RateModel::GaussianBeam {
            aperture: Meters(0.10),
            wavelength: Meters(1550e-9),
            full_rate_range: Meters(1000.0),
        };
        // zR = π (5 cm)² / 1550 nm ≈ 5.07 km.
        let zr = m.rayleigh_range().expect("beam").0;
        assert!((zr - 5067.0).abs() < 5.0, "{zr}");
        let full = BitsPerSecond::from_gbps(1600.0);
        // Inside the full-rate range: the terminal's rate.
        assert_eq!(m.rate(full, Meters(200.0)), full);
        // Far field: doubling the range quarters the rate.
        let r1 = m.rate(full, Meters(500e3)).0 as f64;
        let r2 = m.rate(full, Meters(1000e3)).0 as f64;
        assert!((r1 / r2 - 4.0).abs() < 0.01, "{}", r1 / r2);
    }

    #[test]
    fn packet_error_rate_from_ber() {
        // 9000 B = 72 000 bits at 1e-6: 1 - (1-1e-6)^72000 ≈ 6.95 %.
        let p = packet_error_rate(1e-6, Bytes(9000));
        assert!((p - (1.0 - (1.0f64 - 1e-6).powf(72_000.0))).abs() < 1e-9);
        assert!((packet_error_rate(1e-12, Bytes(9000)) - 7.2e-8).abs() < 1e-12);
        assert_eq!(packet_error_rate(0.0, Bytes(9000)), 0.0);
    }

    #[test]
    fn gilbert_elliott_mean_loss() {
        let ge = GilbertElliott {
            p_good_bad: 0.01,
            p_bad_good: 0.09,
            loss_good: 0.0,
            loss_bad: 0.5,
        };
        assert!((ge.mean_loss() - 0.05).abs() < 1e-12);
    }
}
