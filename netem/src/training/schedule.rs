//! The order of one pipeline stage's forward and backward passes over the
//! micro-batches of a step. 1F1B (PipeDream-Flush; Narayanan et al., SC'21,
//! §2.2.1, and Megatron-LM's `forward_backward_pipelining_without_interleaving`):
//! stage s of p first runs min(p−s−1, m) warm-up forwards, then alternates
//! one forward and one backward, then runs the remaining backwards. GPipe
//! (Huang et al., NeurIPS 2019): all m forwards, then all m backwards.
//! Backwards go in micro-batch order in both.

use super::Schedule;

/// A pass over micro-batch `.0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pass {
    Forward(u64),
    Backward(u64),
}

/// The passes of `stage` (from 0) of `stages`, over `m` micro-batches.
pub(crate) fn passes(schedule: Schedule, stages: u32, stage: u32, m: u64) -> Vec<Pass> {
    let warmup = match schedule {
        Schedule::OneFOneB => u64::from(stages.saturating_sub(stage + 1)).min(m),
        Schedule::GPipe => m,
    };
    let mut out: Vec<Pass> = (0..warmup).map(Pass::Forward).collect();
    for i in 0..m - warmup {
        out.push(Pass::Forward(warmup + i));
        out.push(Pass::Backward(i));
    }
    out.extend((m - warmup..m).map(Pass::Backward));
    out
}

#[cfg(test)]
mod tests {
    use super::Pass::{Backward as B, Forward as F};
    use super::*;

    #[test]
    fn one_f_one_b_warms_up_by_the_stages_after_this_one() {
        let s = Schedule::OneFOneB;
        assert_eq!(
            passes(s, 4, 0, 4),
            [F(0), F(1), F(2), F(3), B(0), B(1), B(2), B(3)]
        );
        assert_eq!(
            passes(s, 4, 2, 4),
            [F(0), F(1), B(0), F(2), B(1), F(3), B(2), B(3)]
        );
        assert_eq!(
            passes(s, 4, 3, 4),
            [F(0), B(0), F(1), B(1), F(2), B(2), F(3), B(3)]
        );
        // Fewer micro-batches than stages: all warm-up.
        assert_eq!(passes(s, 4, 0, 2), [F(0), F(1), B(0), B(1)]);
    }

    #[test]
    fn gpipe_runs_every_forward_first() {
        assert_eq!(
            passes(Schedule::GPipe, 2, 1, 3),
            [F(0), F(1), F(2), B(0), B(1), B(2)]
        );
    }
}
