//! Placement of a plan's ranks on a ring of 16 satellites: compact
//! tensor-parallel groups lie nearer one another than spread ones (tested
//! here, beside the scenario that builds the world, so that `training`
//! never reaches into `scenario`).

use std::sync::Arc;

use crate::routing::Routes;
use crate::scenario::Scenario;
use crate::training::{Placement, Plan, Schedule, place};
use crate::units::SatId;

/// Sixteen satellites in one plane, each linked to the next.
fn ring16() -> Scenario {
    let text = r#"
name = "ring"
[constellation]
kind = "walker"
planes = 1
per_plane = 16
altitude_km = 1000
inclination_deg = 53
[links]
rate_gbps = 10
max_range_km = 6000
"#;
    Scenario::parse(text, "grid.toml", &mut |_| Err("no files".into())).expect("valid")
}

fn plan(dp: u32, tp: u32, pp: u32) -> Plan {
    Plan {
        dp,
        tp,
        pp,
        ep: 1,
        schedule: Schedule::OneFOneB,
    }
}

/// Mean path delay between ranks of the same tensor-parallel group.
fn tp_delay(s: &Scenario, sats: &[SatId], tp: usize) -> f64 {
    let routes = Routes::new(Arc::new(s.world.snapshot(crate::SimTime::ZERO)));
    let (mut total, mut pairs) = (0.0, 0.0);
    for g in sats.chunks(tp) {
        for &a in g {
            for &b in g.iter().filter(|&&b| b != a) {
                total += routes.route(a, b).expect("path").delay.as_secs_f64();
                pairs += 1.0;
            }
        }
    }
    total / pairs
}

#[test]
fn compact_groups_are_nearer_than_spread_ones_and_every_satellite_serves_once() {
    let s = ring16();
    let snap = s.world.snapshot(crate::SimTime::ZERO);
    let all: Vec<SatId> = (0..16).map(SatId).collect();
    let ring = crate::collective::ring_order(&snap, &all);
    let p = plan(2, 4, 2);
    let compact = place(Placement::Compact, &p, &snap, &ring);
    let spread = place(Placement::Spread, &p, &snap, &ring);
    for placed in [&compact, &spread] {
        let mut sorted = placed.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, all);
    }
    let (c, sp) = (tp_delay(&s, &compact, 4), tp_delay(&s, &spread, 4));
    assert!(c < sp, "compact {c} s, spread {sp} s");
    // Spread: tensor-parallel neighbours 4 apart in ring order.
    assert_eq!(spread[1], ring[4]);
    assert_eq!(place(Placement::Compact, &p, &snap, &ring), compact);
}
