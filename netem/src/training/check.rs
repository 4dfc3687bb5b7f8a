//! Checking a job before generating it: every count at least 1, the plan
//! covering the ranks exactly (dp·tp·pp = ranks), tensor parallelism
//! splitting heads and the MLP evenly, pipeline stages holding whole
//! layers, expert parallelism splitting the data-parallel dimension and
//! the experts, and the global batch a whole number of micro-batches per
//! replica. A refusal names the key.

use super::{JobSpec, Model, PlanError};

/// Most layer passes (micro-batches × layers per stage) a rank's graph
/// may hold: each is a dozen nodes or so.
const MAX_LAYER_PASSES: u64 = 1 << 20;

fn refuse<T>(key: &'static str, reason: String) -> Result<T, PlanError> {
    Err(PlanError { key, reason })
}

fn at_least_one(key: &'static str, v: u64) -> Result<(), PlanError> {
    if v == 0 {
        return refuse(key, "must be ≥ 1 (got 0)".into());
    }
    Ok(())
}

/// `v` divides `total`, else a refusal of `key`.
fn divides(key: &'static str, v: u64, what: &str, total: u64) -> Result<(), PlanError> {
    if !total.is_multiple_of(v) {
        return refuse(key, format!("must divide {what} = {total} (got {v})"));
    }
    Ok(())
}

/// Checks the job; returns the micro-batches per pipeline.
pub(crate) fn check(spec: &JobSpec) -> Result<u64, PlanError> {
    check_model(&spec.model)?;
    check_plan(spec)?;
    let acc = &spec.accelerator;
    if !(acc.peak_flops.is_finite() && acc.peak_flops > 0.0) {
        return refuse(
            "accelerator.peak_flops",
            format!("must be > 0 (got {})", acc.peak_flops),
        );
    }
    if !(acc.utilization > 0.0 && acc.utilization <= 1.0) {
        return refuse(
            "accelerator.utilization",
            format!("must be in (0, 1] (got {})", acc.utilization),
        );
    }
    check_batch(spec)
}

fn check_model(m: &Model) -> Result<(), PlanError> {
    at_least_one("layers", u64::from(m.layers))?;
    at_least_one("hidden", m.hidden)?;
    at_least_one("heads", u64::from(m.heads))?;
    at_least_one("ffn", m.ffn)?;
    at_least_one("seq_len", m.seq_len)?;
    at_least_one("vocab", m.vocab)?;
    divides("heads", u64::from(m.heads), "hidden", m.hidden)?;
    match (m.experts, m.top_k) {
        (None, Some(_)) => refuse("top_k", "needs `experts`".into()),
        (Some(e), k) => {
            at_least_one("experts", u64::from(e))?;
            let k = k.unwrap_or(1);
            if k == 0 || k > e {
                return refuse("top_k", format!("must be in [1, experts = {e}] (got {k})"));
            }
            Ok(())
        }
        (None, None) => Ok(()),
    }
}

fn check_plan(spec: &JobSpec) -> Result<(), PlanError> {
    let (p, m) = (&spec.plan, &spec.model);
    for (key, v) in [("dp", p.dp), ("tp", p.tp), ("pp", p.pp), ("ep", p.ep)] {
        at_least_one(key, u64::from(v))?;
    }
    let product = u64::from(p.dp) * u64::from(p.tp) * u64::from(p.pp);
    if product != u64::from(spec.ranks) {
        return refuse(
            "ranks",
            format!(
                "must equal dp·tp·pp = {}·{}·{} = {product} (got {})",
                p.dp, p.tp, p.pp, spec.ranks
            ),
        );
    }
    divides("tp", u64::from(p.tp), "heads", u64::from(m.heads))?;
    divides("tp", u64::from(p.tp), "ffn", m.ffn)?;
    divides("pp", u64::from(p.pp), "layers", u64::from(m.layers))?;
    divides("ep", u64::from(p.ep), "dp", u64::from(p.dp))?;
    match m.experts {
        None if p.ep > 1 => refuse("ep", format!("needs `experts` (got {})", p.ep)),
        Some(e) => divides("ep", u64::from(p.ep), "experts", u64::from(e)),
        None => Ok(()),
    }
}

/// Checks the batch; returns the micro-batches per pipeline.
fn check_batch(spec: &JobSpec) -> Result<u64, PlanError> {
    let b = &spec.batch;
    at_least_one("micro_batch", b.micro_batch)?;
    at_least_one("global_batch", b.global_batch)?;
    let per_step = u64::from(spec.plan.dp).saturating_mul(b.micro_batch);
    if !b.global_batch.is_multiple_of(per_step) {
        return refuse(
            "global_batch",
            format!(
                "must be a multiple of dp·micro_batch = {}·{} = {per_step} (got {})",
                spec.plan.dp, b.micro_batch, b.global_batch
            ),
        );
    }
    let m = b.global_batch / per_step;
    let passes = m.saturating_mul(u64::from(spec.model.layers / spec.plan.pp));
    if passes > MAX_LAYER_PASSES {
        return refuse(
            "global_batch",
            format!(
                "gives {m} micro-batches of {} layers per stage, over {MAX_LAYER_PASSES} layer passes per rank",
                spec.model.layers / spec.plan.pp
            ),
        );
    }
    Ok(m)
}
