//! `[links]`: which pairs may link (the pattern) and what a link is (its
//! rate, MTU, range, loss, queue and acquisition time).

use super::check::{Checked, bad, check_positive, check_range};
use super::constellation::Layout;
use super::raw::{RawBurst, RawLinks};
use crate::link::{GilbertElliott, LinkModel, RateModel};
use crate::topology::Pattern;
use crate::units::{BitsPerSecond, Bytes, Meters, SatId, SimDuration};

crate::named! {
    /// The patterns `links.pattern` names.
    pub enum PatternName {
        PlusGrid = "plus-grid",
        Nearest = "nearest",
        All = "all",
        Explicit = "explicit",
    }
}

crate::named! {
    /// The rate models `links.rate_model` names.
    pub enum RateModelName {
        Fixed = "fixed",
        Gaussian = "gaussian",
    }
}

/// The pattern and the link model of a `[links]` table written at `at`,
/// over the satellites `names` of one constellation.
pub(crate) fn build(
    raw: &RawLinks,
    at: &str,
    names: &[String],
    layout: Layout,
) -> Checked<(Pattern, LinkModel)> {
    let model = model(raw, at)?;
    let pattern = pattern(raw, at, names, layout, model.terminals)?;
    Ok((pattern, model))
}

/// Everything of a link but its pattern.
pub(crate) fn model(raw: &RawLinks, at: &str) -> Checked<LinkModel> {
    let rate = check_positive(&format!("{at}.rate_gbps"), raw.rate_gbps)?;
    if rate > 1e6 {
        return Err(bad(
            format!("{at}.rate_gbps"),
            format!("must be ≤ 1e6 (got {rate})"),
        ));
    }
    let mtu = raw.mtu.unwrap_or(9000);
    if !(576..=MAX_MTU).contains(&mtu) {
        return Err(bad(
            format!("{at}.mtu"),
            format!(
                "must be in [576, {MAX_MTU}] (got {mtu}): a packet and the wire's \
                 44-byte frame header must fit one UDP datagram"
            ),
        ));
    }
    let grazing = check_range(
        &format!("{at}.grazing_km"),
        raw.grazing_km.unwrap_or(80.0),
        0.0,
        10_000.0,
    )?;
    let max_range = match raw.max_range_km {
        None => f64::INFINITY,
        Some(r) => check_positive(&format!("{at}.max_range_km"), r)?,
    };
    let acquisition = check_range(
        &format!("{at}.acquisition_s"),
        raw.acquisition_s.unwrap_or(0.0),
        0.0,
        86_400.0,
    )?;
    let ber = raw.ber.unwrap_or(0.0);
    if !(0.0..1.0).contains(&ber) {
        return Err(bad(
            format!("{at}.ber"),
            format!("must be in [0, 1) (got {ber})"),
        ));
    }
    let loss = raw.loss.unwrap_or(0.0);
    if !(0.0..1.0).contains(&loss) {
        return Err(bad(
            format!("{at}.loss"),
            format!("must be in [0, 1) (got {loss})"),
        ));
    }
    let terminals = raw.terminals.unwrap_or(4);
    if terminals == 0 {
        return Err(bad(format!("{at}.terminals"), "must be ≥ 1 (got 0)"));
    }
    let terminal_rate = BitsPerSecond::from_gbps(rate);
    Ok(LinkModel {
        terminal_rate,
        rate_model: rate_model(raw, at)?,
        mtu: Bytes(u64::from(mtu)),
        ber,
        loss,
        burst: raw.burst.as_ref().map(|b| burst(b, at)).transpose()?,
        grazing: Meters::from_km(grazing),
        max_range: Meters::from_km(max_range),
        acquisition: SimDuration::from_secs_f64(acquisition),
        terminals,
        queue: Bytes(queue(raw.queue_bytes, terminal_rate, mtu, at)?),
    })
}

/// The link queue: `queue_bytes`, or 50 ms at the link rate within
/// [1 MiB, 256 MiB]. A TCP sender in slow start doubles its window each
/// round trip, sending two segments per acknowledged one, so in the last
/// round before it fills the path the bottleneck's queue grows by half the
/// window: half the bandwidth-delay product. 50 ms holds that on paths up
/// to 100 ms of round trip (BENCHMARKS.md, the long-path rows). Memory is
/// only used when full.
/// The largest link MTU: IPv4's 16-bit total length (RFC 791) leaves a UDP
/// datagram 65,507 bytes, which hold the wire's 44-byte header and the
/// packet. (576 below is the least datagram every IPv4 host accepts.)
const MAX_MTU: u32 = 65_535 - 20 - 8 - 44;

fn queue(given: Option<u64>, rate: BitsPerSecond, mtu: u32, at: &str) -> Checked<u64> {
    let queue = given.unwrap_or_else(|| (rate.0 / 8 / 20).clamp(1 << 20, 256 << 20));
    if queue < u64::from(mtu) {
        return Err(bad(
            format!("{at}.queue_bytes"),
            format!("must hold one MTU ({mtu}) (got {queue})"),
        ));
    }
    Ok(queue)
}

/// Which pairs may link.
fn pattern(
    raw: &RawLinks,
    at: &str,
    names: &[String],
    layout: Layout,
    terminals: u32,
) -> Checked<Pattern> {
    let default = if layout.is_some() {
        PatternName::PlusGrid
    } else {
        PatternName::Nearest
    };
    let name = raw.pattern.unwrap_or(default);
    let only = |field: &str, present: bool, for_pattern: PatternName| -> Checked<()> {
        if present && name != for_pattern {
            Err(bad(
                format!("{at}.{field}"),
                format!("only for pattern = \"{for_pattern}\""),
            ))
        } else {
            Ok(())
        }
    };
    only("k", raw.k.is_some(), PatternName::Nearest)?;
    only("pairs", raw.pairs.is_some(), PatternName::Explicit)?;
    match name {
        PatternName::PlusGrid => {
            let (planes, per_plane) = layout.ok_or_else(|| {
                bad(
                    format!("{at}.pattern"),
                    "plus-grid needs a walker constellation",
                )
            })?;
            Ok(Pattern::PlusGrid { planes, per_plane })
        }
        PatternName::Nearest => {
            let k = raw.k.unwrap_or(terminals);
            if k == 0 || k > terminals {
                return Err(bad(
                    format!("{at}.k"),
                    format!("must be in [1, terminals = {terminals}] (got {k})"),
                ));
            }
            Ok(Pattern::Nearest { k })
        }
        PatternName::All => {
            if names.len() > 5_000 {
                return Err(bad(
                    format!("{at}.pattern"),
                    format!("\"all\" on {} satellites is too many pairs", names.len()),
                ));
            }
            Ok(Pattern::All)
        }
        PatternName::Explicit => explicit(raw.pairs.as_deref(), at, names),
    }
}

/// `pattern = "explicit"`: the listed pairs.
fn explicit(pairs: Option<&[(String, String)]>, at: &str, names: &[String]) -> Checked<Pattern> {
    let pairs =
        pairs.ok_or_else(|| bad(format!("{at}.pairs"), "required for pattern = \"explicit\""))?;
    let find = |i: usize, n: &str| -> Checked<SatId> {
        names
            .iter()
            .position(|x| x == n)
            .map(|p| SatId(p as u32))
            .ok_or_else(|| {
                bad(
                    format!("{at}.pairs[{i}]"),
                    format!("no satellite named {n:?}"),
                )
            })
    };
    let mut out = Vec::new();
    for (i, (a, b)) in pairs.iter().enumerate() {
        let (a, b) = (find(i, a)?, find(i, b)?);
        if a == b {
            return Err(bad(
                format!("{at}.pairs[{i}]"),
                "a satellite cannot link to itself",
            ));
        }
        out.push((a, b));
    }
    Ok(Pattern::Explicit(out))
}

/// How a link's rate follows its length.
fn rate_model(raw: &RawLinks, at: &str) -> Checked<RateModel> {
    let beam_fields =
        raw.aperture_cm.is_some() || raw.wavelength_nm.is_some() || raw.full_rate_km.is_some();
    match raw.rate_model.unwrap_or(RateModelName::Fixed) {
        RateModelName::Fixed if beam_fields => Err(bad(
            format!("{at}.rate_model"),
            "aperture_cm, wavelength_nm and full_rate_km need rate_model = \"gaussian\"",
        )),
        RateModelName::Fixed => Ok(RateModel::Fixed),
        RateModelName::Gaussian => {
            let aperture = check_positive(
                &format!("{at}.aperture_cm"),
                raw.aperture_cm.unwrap_or(10.0),
            )? / 100.0;
            let wavelength = check_positive(
                &format!("{at}.wavelength_nm"),
                raw.wavelength_nm.unwrap_or(1550.0),
            )? * 1e-9;
            // The Rayleigh range of a beam of waist w0 = aperture / 2.
            let w0 = aperture / 2.0;
            let zr = std::f64::consts::PI * w0 * w0 / wavelength;
            let full = match raw.full_rate_km {
                Some(km) => check_positive(&format!("{at}.full_rate_km"), km)? * 1e3,
                None => zr,
            };
            Ok(RateModel::GaussianBeam {
                aperture: Meters(aperture),
                wavelength: Meters(wavelength),
                full_rate_range: Meters(full),
            })
        }
    }
}

/// Gilbert–Elliott bursts of loss.
fn burst(b: &RawBurst, at: &str) -> Checked<GilbertElliott> {
    let p = |f: &str, v: f64| check_range(&format!("{at}.burst.{f}"), v, 0.0, 1.0);
    Ok(GilbertElliott {
        p_good_bad: p("p_good_bad", b.p_good_bad)?,
        p_bad_good: p("p_bad_good", b.p_bad_good)?,
        loss_good: p("loss_good", b.loss_good)?,
        loss_bad: p("loss_bad", b.loss_bad.unwrap_or(1.0))?,
    })
}
