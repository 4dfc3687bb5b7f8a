//! `[[workload]]`: pings, bulk transfers, collective sweeps, training
//! steps and per-rank graphs (`trace` and `model`, in `graphs`), checked
//! against the world they run in.

use super::check::{Checked, bad, check_positive, check_range, kind_of, start_and_timeout, typed};
use super::raw::{RawBulk, RawCollective, RawPing, RawTrain};
use crate::traffic::Workload;
use crate::units::{SatId, SimDuration, SimTime};
use crate::workload::{Algorithm, Bulk, Cc, Collective, DType, Op, Ping, Train, Transport};
use crate::world::World;

crate::named! {
    /// The kinds of workload a scenario may hold.
    pub enum WorkloadKind {
        Ping = "ping",
        Bulk = "bulk",
        Collective = "collective",
        Train = "train",
        Trace = "trace",
        Model = "model",
        Offload = "offload",
    }
}

/// Most ranks a collective over TCP may have: each ordered pair of ranks
/// gets its own pair of ports.
pub const MAX_TCP_RANKS: usize = 500;

/// Largest buffer a collective may move per rank: every rank holds it in
/// memory, in one process per satellite.
const MAX_COLLECTIVE_BYTES: u64 = 1 << 30;

/// What a workload is checked against.
pub(crate) struct Context<'a> {
    pub(crate) world: &'a World,
    /// The routing interval, on whose instants the satellites' routes (and
    /// so a collective's ring) are set.
    pub(crate) grid: SimDuration,
    /// The accelerator every satellite carries (a `model` needs it).
    pub(crate) accelerator: Option<&'a crate::workload::Accelerator>,
    /// Reads the files a workload refers to (Chakra traces).
    pub(crate) read: std::cell::RefCell<super::ReadBytes<'a>>,
}

impl Context<'_> {
    pub(super) fn sat(&self, field: &str, key: &str, name: &str) -> Checked<SatId> {
        self.world.find(name).ok_or_else(|| {
            bad(
                format!("{field}.{key}"),
                format!("no satellite named {name:?}"),
            )
        })
    }
}

/// Builds workload `i`.
pub(crate) fn build(table: toml::Table, i: usize, cx: &Context<'_>) -> Checked<Workload> {
    let field = format!("workload[{i}]");
    let kind = kind_of::<WorkloadKind>(&table, &field)?;
    let value = toml::Value::Table(table);
    match kind {
        WorkloadKind::Ping => ping(typed(value, &field)?, &field, cx).map(Workload::Ping),
        WorkloadKind::Bulk => bulk(typed(value, &field)?, &field, cx).map(Workload::Bulk),
        WorkloadKind::Collective => {
            collective(typed(value, &field)?, &field, cx).map(Workload::Collective)
        }
        WorkloadKind::Train => train(typed(value, &field)?, &field, cx).map(Workload::Train),
        WorkloadKind::Trace => super::graphs::trace(typed(value, &field)?, &field, cx),
        WorkloadKind::Model => super::graphs::model(typed(value, &field)?, &field, cx),
        WorkloadKind::Offload => {
            super::offload::build(typed(value, &field)?, &field, cx).map(Workload::Offload)
        }
    }
}

fn ping(p: RawPing, field: &str, cx: &Context<'_>) -> Checked<Ping> {
    let from = cx.sat(field, "from", &p.from)?;
    let to = cx.sat(field, "to", &p.to)?;
    if from == to {
        return Err(bad(format!("{field}.to"), "must differ from `from`"));
    }
    let interval_ms = check_positive(
        &format!("{field}.interval_ms"),
        p.interval_ms.unwrap_or(1000.0),
    )?;
    let count = p.count.unwrap_or(10);
    if count == 0 {
        return Err(bad(format!("{field}.count"), "must be ≥ 1 (got 0)"));
    }
    let size = p.size.unwrap_or(56);
    if size > 60_000 {
        return Err(bad(
            format!("{field}.size"),
            format!("must be ≤ 60000 (got {size})"),
        ));
    }
    let start = check_range(
        &format!("{field}.start_s"),
        p.start_s.unwrap_or(0.0),
        0.0,
        1e9,
    )?;
    let timeout = check_positive(&format!("{field}.timeout_s"), p.timeout_s.unwrap_or(1.0))?;
    Ok(Ping {
        from,
        to,
        interval: SimDuration::from_secs_f64(interval_ms / 1e3),
        count,
        size,
        start: SimTime::from_secs_f64(start),
        timeout: SimDuration::from_secs_f64(timeout),
    })
}

fn bulk(b: RawBulk, field: &str, cx: &Context<'_>) -> Checked<Bulk> {
    let from = cx.sat(field, "from", &b.from)?;
    let to = cx.sat(field, "to", &b.to)?;
    if from == to {
        return Err(bad(format!("{field}.to"), "must differ from `from`"));
    }
    if b.bytes == 0 {
        return Err(bad(format!("{field}.bytes"), "must be ≥ 1 (got 0)"));
    }
    let transport = transport(field, b.transport, cx.world)?;
    let cc = b.cc.unwrap_or(Cc::Cubic);
    if cc == Cc::Bbr && transport == Transport::Tcp {
        return Err(bad(
            format!("{field}.cc"),
            "\"bbr\" is for QUIC; TCP offers cubic and newreno",
        ));
    }
    let streams = b.streams.unwrap_or(1);
    if !(1..=64).contains(&streams) {
        return Err(bad(
            format!("{field}.streams"),
            format!("must be in [1, 64] (got {streams})"),
        ));
    }
    let (start, timeout) = start_and_timeout(field, b.start_s, b.timeout_s)?;
    Ok(Bulk {
        from,
        to,
        bytes: b.bytes,
        transport,
        cc,
        streams,
        start,
        timeout,
    })
}

/// The `transport` key: QUIC (the default) or TCP.
pub(super) fn transport(
    field: &str,
    value: Option<Transport>,
    world: &World,
) -> Checked<Transport> {
    let t = value.unwrap_or(Transport::Quic);
    // QUIC never sends UDP payloads under 1200 bytes (RFC 9000 §14): with
    // 20 bytes of IPv4 and 8 of UDP the links must carry 1228.
    let mtu = world.link_model().mtu.0;
    if t == Transport::Quic && mtu < 1228 {
        return Err(bad(
            format!("{field}.transport"),
            format!("QUIC needs links.mtu ≥ 1228 (got {mtu})"),
        ));
    }
    Ok(t)
}

/// The `ranks` key: a count (the first N satellites), a list of names, or
/// absent (every satellite); returned in ring order at `start`.
pub(super) fn ranks(
    field: &str,
    value: Option<&toml::Value>,
    world: &World,
    start: SimTime,
) -> Checked<Vec<SatId>> {
    let f = format!("{field}.ranks");
    let n = world.satellites();
    let members: Vec<SatId> = match value {
        None => (0..n).map(SatId).collect(),
        Some(toml::Value::Integer(k)) => {
            if *k < 2 || *k > i64::from(n) {
                return Err(bad(f, format!("must be in [2, {n}] (got {k})")));
            }
            (0..*k as u32).map(SatId).collect()
        }
        Some(toml::Value::Array(a)) => named_ranks(&f, a, world)?,
        Some(other) => {
            return Err(bad(
                f,
                format!("must be a count or a list of satellite names (got {other})"),
            ));
        }
    };
    if members.len() < 2 {
        return Err(bad(f, "a collective needs at least 2 ranks"));
    }
    Ok(crate::collective::ring_order(
        &world.snapshot(start),
        &members,
    ))
}

/// Ranks listed by satellite name.
pub(super) fn named_ranks(f: &str, a: &[toml::Value], world: &World) -> Checked<Vec<SatId>> {
    let mut out = Vec::new();
    for (i, v) in a.iter().enumerate() {
        let Some(name) = v.as_str() else {
            return Err(bad(format!("{f}[{i}]"), "must be a satellite name"));
        };
        let Some(s) = world.find(name) else {
            return Err(bad(
                format!("{f}[{i}]"),
                format!("no satellite named {name:?}"),
            ));
        };
        if out.contains(&s) {
            return Err(bad(
                format!("{f}[{i}]"),
                format!("{name:?} is listed twice"),
            ));
        }
        out.push(s);
    }
    Ok(out)
}

pub(super) fn tcp_ranks(field: &str, transport: Transport, n: usize) -> Checked<()> {
    if transport == Transport::Tcp && n > MAX_TCP_RANKS {
        return Err(bad(
            format!("{field}.ranks"),
            format!("a TCP collective takes at most {MAX_TCP_RANKS} ranks (got {n}); use QUIC"),
        ));
    }
    Ok(())
}

/// The sizes of a sweep: from `min_bytes` to `max_bytes` by `factor`.
fn sizes(c: &RawCollective, field: &str, dtype: DType) -> Checked<Vec<u64>> {
    let min = c.min_bytes.unwrap_or(1 << 20);
    let max = c.max_bytes.unwrap_or(min);
    if min == 0 {
        return Err(bad(format!("{field}.min_bytes"), "must be ≥ 1 (got 0)"));
    }
    if max < min || max > MAX_COLLECTIVE_BYTES {
        return Err(bad(
            format!("{field}.max_bytes"),
            format!("must be in [min_bytes = {min}, {MAX_COLLECTIVE_BYTES}] (got {max})"),
        ));
    }
    let factor = c.factor.unwrap_or(2);
    if factor < 2 {
        return Err(bad(
            format!("{field}.factor"),
            format!("must be ≥ 2 (got {factor})"),
        ));
    }
    Ok(crate::collective::sweep(
        min,
        max,
        factor,
        dtype.size() as u64,
    ))
}

fn collective(c: RawCollective, field: &str, cx: &Context<'_>) -> Checked<Collective> {
    let op = c.op.unwrap_or(Op::AllReduce);
    let algorithm = c.algorithm.unwrap_or(Algorithm::Ring);
    let dtype = c.dtype.unwrap_or(DType::F32);
    let sizes = sizes(&c, field, dtype)?;
    let iterations = c.iterations.unwrap_or(5);
    if !(1..=10_000).contains(&iterations) {
        return Err(bad(
            format!("{field}.iterations"),
            format!("must be in [1, 10000] (got {iterations})"),
        ));
    }
    let warmup = c.warmup.unwrap_or(1);
    if warmup > 1000 {
        return Err(bad(
            format!("{field}.warmup"),
            format!("must be ≤ 1000 (got {warmup})"),
        ));
    }
    let transport = transport(field, c.transport, cx.world)?;
    let (start, timeout) = start_and_timeout(field, c.start_s, c.timeout_s)?;
    let at = super::routing_instant(start, cx.grid);
    let ranks = ranks(field, c.ranks.as_ref(), cx.world, at)?;
    tcp_ranks(field, transport, ranks.len())?;
    Ok(Collective {
        op,
        algorithm,
        dtype,
        sizes,
        iterations,
        warmup,
        transport,
        ranks,
        start,
        timeout,
    })
}

fn train(t: RawTrain, field: &str, cx: &Context<'_>) -> Checked<Train> {
    let params = check_range(&format!("{field}.params"), t.params, 1.0, 1e13)?;
    if params * 2.0 > MAX_COLLECTIVE_BYTES as f64 {
        return Err(bad(
            format!("{field}.params"),
            format!(
                "bf16 gradients of {params} parameters exceed the {MAX_COLLECTIVE_BYTES} bytes a rank may hold"
            ),
        ));
    }
    let tokens_per_step = check_positive(&format!("{field}.tokens_per_step"), t.tokens_per_step)?;
    let bucket_bytes = t.bucket_bytes.unwrap_or(25 << 20);
    if bucket_bytes < 2 {
        return Err(bad(
            format!("{field}.bucket_bytes"),
            format!("must be ≥ 2 (got {bucket_bytes})"),
        ));
    }
    let steps = t.steps.unwrap_or(5);
    if !(1..=10_000).contains(&steps) {
        return Err(bad(
            format!("{field}.steps"),
            format!("must be in [1, 10000] (got {steps})"),
        ));
    }
    let transport = transport(field, t.transport, cx.world)?;
    let algorithm = t.algorithm.unwrap_or(Algorithm::Ring);
    let (start, timeout) = start_and_timeout(field, t.start_s, t.timeout_s)?;
    let at = super::routing_instant(start, cx.grid);
    let ranks = ranks(field, t.ranks.as_ref(), cx.world, at)?;
    tcp_ranks(field, transport, ranks.len())?;
    Ok(Train {
        params,
        tokens_per_step,
        bucket_bytes,
        steps,
        transport,
        algorithm,
        ranks,
        start,
        timeout,
    })
}
