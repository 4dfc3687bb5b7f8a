//! The states of ground links, from the ground segment's assignment (see
//! [`crate::ground::segment`] for the rules).

use std::sync::Arc;

use super::World;
use crate::geometry::{Vec3, distance};
use crate::ground::segment::{Assignment, GroundSegment, GslKind, Handover};
use crate::link::propagation_delay;
use crate::orbit::Orbit;
use crate::topology::{DownReason, LinkState, LinkStatus};
use crate::units::{LinkId, SimTime};

/// The assignments one instant's ground links are judged by, made when a
/// link first needs them: a link below the mask needs none.
struct Judge<'a> {
    world: &'a World,
    segment: &'a GroundSegment,
    t: SimTime,
    /// By instant: the assignment then.
    known: Vec<(SimTime, Arc<Assignment>)>,
}

impl Judge<'_> {
    fn at(&mut self, t: SimTime) -> Arc<Assignment> {
        if let Some((_, a)) = self.known.iter().find(|(at, _)| *at == t) {
            return a.clone();
        }
        let world = self.world;
        let positions = move |at: SimTime| -> Arc<Vec<Vec3>> {
            Arc::new(
                world.orbits[..world.satellites as usize]
                    .iter()
                    .map(|o| o.position(at))
                    .collect(),
            )
        };
        let a = self.segment.assign(t, &positions, &world.orbits);
        self.known.push((t, a.clone()));
        a
    }
}

impl World {
    /// The ground links `ids` at `t` (none without ground stations),
    /// before faults.
    pub(super) fn gsl_statuses(
        &self,
        t: SimTime,
        ids: impl Iterator<Item = usize>,
    ) -> Vec<LinkStatus> {
        let Some(segment) = self.ground.as_deref() else {
            return Vec::new();
        };
        let mut judge = Judge {
            world: self,
            segment,
            t,
            known: Vec::new(),
        };
        ids.filter(|&i| i >= self.first_gsl && i < self.candidates.len())
            .map(|i| self.gsl_status(i, &mut judge))
            .collect()
    }

    fn gsl_status(&self, i: usize, judge: &mut Judge<'_>) -> LinkStatus {
        let (sat, node) = self.candidates[i];
        let g = usize::from(self.group_of[i]) - self.isl_groups;
        let segment = judge.segment;
        let t = judge.t;
        let links = &segment.stations()[g].links;
        let site = segment.site(g, t);
        let used = site.unwrap_or(0);
        let sat_at = self.orbits[sat.index()].position(t);
        let d = distance(sat_at, self.orbits[node.index()].position(t));
        let model = &links.model;
        let mut loss = self.mtu_loss[usize::from(self.group_of[i])];
        if let Some(rain) = links.rain
            && segment.raining(g, used, t)
        {
            loss = 1.0 - (1.0 - loss) * (1.0 - rain.loss);
        }
        let mut status = LinkStatus {
            id: LinkId(i as u32),
            a: sat,
            b: node,
            state: LinkState::Down,
            reason: None,
            distance: d,
            delay: propagation_delay(d),
            rate: model.rate_model.rate(model.terminal_rate, d),
            loss,
        };
        // None below the mask: a link below it needs no angles.
        let look = segment.look_if_near(g, used, sat_at, t);
        let h = links.handover_time;
        let earlier = (h > crate::units::SimDuration::ZERO && t.as_nanos() >= h.as_nanos())
            .then(|| t.saturating_sub(h));
        status.reason = if site.is_none() && links.kind == GslKind::Optical {
            Some(DownReason::Cloud)
        } else if look.is_none_or(|l| l.elevation_deg < links.mask.min_elevation_deg()) {
            Some(DownReason::BelowMask)
        } else if look.is_some_and(|l| l.range.0 > links.mask.max_range().0) {
            Some(DownReason::OutOfRange)
        } else if let Some(e) = earlier
            && site.is_some()
            && segment.site(g, e).is_some_and(|s| Some(s) != site)
        {
            Some(DownReason::Handover)
        } else {
            None
        };
        if status.reason.is_some() {
            return status;
        }
        let g_now = judge.at(t).has(g, sat.0);
        let g_then = match earlier {
            Some(e) => judge.at(e).has(g, sat.0),
            None => g_now,
        };
        let carrying = match links.handover {
            Handover::BreakBeforeMake => g_now && g_then,
            Handover::MakeBeforeBreak => g_then,
        };
        (status.state, status.reason) = if carrying {
            (LinkState::Up, None)
        } else if g_now {
            (LinkState::Acquiring, None)
        } else {
            (LinkState::Down, Some(DownReason::NoTerminal))
        };
        status
    }

    /// The elevation of link `link`'s satellite above its station's horizon
    /// at `t`, degrees (`None` for a link between satellites).
    pub fn elevation_deg(&self, link: LinkId, t: SimTime) -> Option<f64> {
        let i = link.index();
        if !self.is_gsl(link) {
            return None;
        }
        let segment = self.ground.as_deref()?;
        let (sat, _) = self.candidates[i];
        let g = usize::from(self.group_of[i]) - self.isl_groups;
        let site = segment.site(g, t).unwrap_or(0);
        segment
            .look(g, site, self.orbits[sat.index()].position(t), t)
            .map(|l| l.elevation_deg)
    }
}
