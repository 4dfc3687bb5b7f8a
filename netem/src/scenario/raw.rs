//! Scenario files as written: serde forms of every table, before the
//! checks. Unknown fields are refused, naming the field.

use serde::Deserialize;

use super::faults::FaultName;
use super::gateways::GatewayProtocol;
use super::links::{PatternName, RateModelName};
use crate::workload::{Algorithm, Cc, DType, Op, Transport};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScenario {
    pub(crate) name: String,
    pub(crate) epoch: Option<String>,
    pub(crate) seed: Option<u64>,
    pub(crate) tdf: Option<f64>,
    pub(crate) duration_s: Option<f64>,
    pub(crate) routing_interval_ms: Option<f64>,
    /// One table, or an array of them (several constellations).
    pub(crate) constellation: toml::Value,
    /// The defaults of every constellation's links, and `between`.
    pub(crate) links: toml::Table,
    pub(crate) accelerator: Option<RawAccelerator>,
    #[serde(default)]
    pub(crate) workload: Vec<toml::Table>,
    #[serde(default)]
    pub(crate) fault: Vec<RawFault>,
    #[serde(default)]
    pub(crate) gateway: Vec<RawGateway>,
    /// `[ground]`: defaults for every station, and a stations file.
    pub(crate) ground: Option<toml::Value>,
    #[serde(default)]
    pub(crate) ground_station: Vec<toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGateway {
    pub(crate) satellite: String,
    pub(crate) listen: Option<String>,
    pub(crate) to: Option<String>,
    pub(crate) expose: Option<toml::Value>,
    pub(crate) forward: Option<String>,
    pub(crate) protocol: Option<GatewayProtocol>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFault {
    pub(crate) at_s: f64,
    pub(crate) kind: FaultName,
    pub(crate) a: Option<toml::Value>,
    pub(crate) b: Option<toml::Value>,
    pub(crate) for_s: Option<f64>,
    pub(crate) loss: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAccelerator {
    pub(crate) name: Option<String>,
    pub(crate) peak_tflops: f64,
    pub(crate) utilization: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCollective {
    /// Read before this form is chosen.
    #[serde(rename = "kind")]
    pub(crate) _kind: serde::de::IgnoredAny,
    pub(crate) op: Option<Op>,
    pub(crate) algorithm: Option<Algorithm>,
    pub(crate) dtype: Option<DType>,
    pub(crate) min_bytes: Option<u64>,
    pub(crate) max_bytes: Option<u64>,
    pub(crate) factor: Option<u64>,
    pub(crate) iterations: Option<u32>,
    pub(crate) warmup: Option<u32>,
    pub(crate) transport: Option<Transport>,
    pub(crate) ranks: Option<toml::Value>,
    pub(crate) start_s: Option<f64>,
    pub(crate) timeout_s: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTrain {
    /// Read before this form is chosen.
    #[serde(rename = "kind")]
    pub(crate) _kind: serde::de::IgnoredAny,
    pub(crate) params: f64,
    pub(crate) tokens_per_step: f64,
    pub(crate) bucket_bytes: Option<u64>,
    pub(crate) steps: Option<u32>,
    pub(crate) transport: Option<Transport>,
    pub(crate) algorithm: Option<Algorithm>,
    pub(crate) ranks: Option<toml::Value>,
    pub(crate) start_s: Option<f64>,
    pub(crate) timeout_s: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWalker {
    /// Read before this form is chosen.
    #[serde(rename = "kind")]
    pub(crate) _kind: serde::de::IgnoredAny,
    pub(crate) planes: u32,
    pub(crate) per_plane: u32,
    pub(crate) altitude_km: f64,
    pub(crate) inclination_deg: f64,
    #[serde(default)]
    pub(crate) phasing: u32,
    pub(crate) raan_spread_deg: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTle {
    /// Read before this form is chosen.
    #[serde(rename = "kind")]
    pub(crate) _kind: serde::de::IgnoredAny,
    pub(crate) file: String,
    /// Keep only the element sets whose name matches this glob pattern
    /// (`*`, `?`, `[…]`), as in "STARLINK-1*".
    pub(crate) names: Option<String>,
    /// Take only the first `count` element sets (after `names`).
    pub(crate) count: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFormation {
    /// Read before this form is chosen.
    #[serde(rename = "kind")]
    pub(crate) _kind: serde::de::IgnoredAny,
    pub(crate) count: u32,
    pub(crate) altitude_km: f64,
    /// Default: sun-synchronous for the altitude.
    pub(crate) inclination_deg: Option<f64>,
    #[serde(default)]
    pub(crate) raan_deg: f64,
    pub(crate) spacing_m: Option<f64>,
    pub(crate) radius_m: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLinks {
    pub(crate) pattern: Option<PatternName>,
    pub(crate) rate_gbps: f64,
    pub(crate) mtu: Option<u32>,
    pub(crate) grazing_km: Option<f64>,
    pub(crate) max_range_km: Option<f64>,
    pub(crate) acquisition_s: Option<f64>,
    pub(crate) ber: Option<f64>,
    pub(crate) loss: Option<f64>,
    pub(crate) terminals: Option<u32>,
    pub(crate) k: Option<u32>,
    pub(crate) pairs: Option<Vec<(String, String)>>,
    pub(crate) queue_bytes: Option<u64>,
    pub(crate) rate_model: Option<RateModelName>,
    pub(crate) aperture_cm: Option<f64>,
    pub(crate) wavelength_nm: Option<f64>,
    pub(crate) full_rate_km: Option<f64>,
    pub(crate) burst: Option<RawBurst>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBurst {
    pub(crate) p_good_bad: f64,
    pub(crate) p_bad_good: f64,
    #[serde(default)]
    pub(crate) loss_good: f64,
    pub(crate) loss_bad: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBulk {
    /// Read before this form is chosen.
    #[serde(rename = "kind")]
    pub(crate) _kind: serde::de::IgnoredAny,
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) bytes: u64,
    pub(crate) transport: Option<Transport>,
    pub(crate) cc: Option<Cc>,
    pub(crate) streams: Option<u32>,
    pub(crate) start_s: Option<f64>,
    pub(crate) timeout_s: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPing {
    /// Read before this form is chosen.
    #[serde(rename = "kind")]
    pub(crate) _kind: serde::de::IgnoredAny,
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) interval_ms: Option<f64>,
    pub(crate) count: Option<u32>,
    pub(crate) size: Option<u32>,
    pub(crate) start_s: Option<f64>,
    pub(crate) timeout_s: Option<f64>,
}

// ---------------------------------------------------------------- loading

/// `[[links.between]]`: each satellite of constellation `a` linked to its
/// nearest of `b`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBetween {
    pub(crate) a: String,
    pub(crate) b: String,
    pub(crate) pattern: Option<PatternName>,
    pub(crate) k: Option<u32>,
    pub(crate) max_range_km: Option<f64>,
}
