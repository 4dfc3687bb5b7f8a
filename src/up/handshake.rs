//! The start of a run of satellite processes, as a state machine: every
//! satellite reports the address its wire is bound to; once all have, each
//! is told every peer's address (and the run's certificate); once all are
//! ready, each is told the shared start instant. A satellite restarted
//! after a crash goes through the same two steps alone, with the same
//! messages, and gets the stop too if it was already sent. The same
//! machine serves a run on one host and a run split across hosts (where
//! host 0 relays the messages through each satellite's host).

use std::collections::BTreeSet;
use std::net::SocketAddr;

use orbnet_node::protocol::ToNode;

/// Who a message goes to.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Send {
    /// Every satellite.
    All(ToNode),
    /// One satellite.
    One(usize, ToNode),
}

/// Where the handshake stands.
#[derive(Debug)]
pub(super) struct Handshake {
    addrs: Vec<Option<SocketAddr>>,
    ready: usize,
    tls: Option<(String, String)>,
    peers: Option<ToNode>,
    start: Option<ToNode>,
    rejoining: BTreeSet<usize>,
}

impl Handshake {
    /// A handshake with `n` satellites; `tls` is the run's certificate and
    /// key (hex DER), when a workload speaks QUIC.
    pub(super) fn new(n: usize, tls: Option<(String, String)>) -> Handshake {
        Handshake {
            addrs: vec![None; n],
            ready: 0,
            tls,
            peers: None,
            start: None,
            rejoining: BTreeSet::new(),
        }
    }

    /// Satellite `i` bound its wire to `addr`.
    pub(super) fn bound(&mut self, i: usize, addr: SocketAddr) -> Option<Send> {
        if self.rejoining.contains(&i) {
            return self.peers.clone().map(|m| Send::One(i, m));
        }
        let slot = self.addrs.get_mut(i)?;
        if slot.replace(addr).is_some() {
            return None;
        }
        let peers = self.addrs.iter().copied().collect::<Option<Vec<_>>>()?;
        let (tls_cert, tls_key) = match &self.tls {
            Some((c, k)) => (Some(c.clone()), Some(k.clone())),
            None => (None, None),
        };
        let m = ToNode::Peers {
            peers,
            tls_cert,
            tls_key,
        };
        self.peers = Some(m.clone());
        Some(Send::All(m))
    }

    /// Satellite `i` is ready; the start instant comes from `start` (Unix
    /// nanoseconds) once all are. `stopping`: the stop was already sent.
    pub(super) fn ready(
        &mut self,
        i: usize,
        start: impl FnOnce() -> u64,
        stopping: bool,
    ) -> Vec<Send> {
        if self.rejoining.remove(&i) {
            let mut out: Vec<Send> = self.start.iter().map(|m| Send::One(i, m.clone())).collect();
            if stopping {
                out.push(Send::One(i, ToNode::Stop));
            }
            return out;
        }
        self.ready += 1;
        if self.ready != self.addrs.len() {
            return Vec::new();
        }
        let m = ToNode::Start {
            start_unix_ns: start(),
        };
        self.start = Some(m.clone());
        vec![Send::All(m)]
    }

    /// Whether every satellite has been told the start.
    pub(super) fn started(&self) -> bool {
        self.start.is_some()
    }

    /// The start instant (Unix nanoseconds), once fixed.
    pub(super) fn start_unix_ns(&self) -> Option<u64> {
        match self.start {
            Some(ToNode::Start { start_unix_ns }) => Some(start_unix_ns),
            _ => None,
        }
    }

    /// How many satellites have bound and been ready, for messages.
    pub(super) fn counts(&self) -> (usize, usize) {
        (
            self.addrs.iter().filter(|p| p.is_some()).count(),
            self.ready,
        )
    }

    /// The port satellite `i` bound (a restart binds it again).
    pub(super) fn port(&self, i: usize) -> Option<u16> {
        self.addrs.get(i).copied().flatten().map(|a| a.port())
    }

    /// The satellites restarting now (they get the stop after their start).
    pub(super) fn rejoining(&self) -> impl Iterator<Item = usize> + '_ {
        self.rejoining.iter().copied()
    }

    /// Satellite `i` restarted: it goes through the handshake alone.
    pub(super) fn rejoin(&mut self, i: usize) {
        self.rejoining.insert(i);
    }

    /// Whether satellite `i` is restarting (it gets the stop after its start).
    pub(super) fn is_rejoining(&self, i: usize) -> bool {
        self.rejoining.contains(&i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &Send) -> ToNode {
        match s {
            Send::All(m) | Send::One(_, m) => m.clone(),
        }
    }

    fn local(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn peers_go_out_once_all_are_bound_and_the_start_once_all_are_ready() {
        let mut h = Handshake::new(3, Some(("cc".into(), "kk".into())));
        assert_eq!(h.bound(1, local(4001)), None);
        assert_eq!(h.bound(0, local(4000)), None);
        // A repeated report changes nothing.
        assert_eq!(h.bound(0, local(4000)), None);
        let all = h.bound(2, local(4002)).expect("peers");
        assert!(matches!(all, Send::All(_)));
        match parse(&all) {
            ToNode::Peers {
                peers, tls_cert, ..
            } => {
                let ports: Vec<u16> = peers.iter().map(|p| p.port()).collect();
                assert_eq!(ports, [4000, 4001, 4002]);
                assert_eq!(tls_cert.as_deref(), Some("cc"));
            }
            m => panic!("{m:?}"),
        }
        assert!(h.ready(0, || 7, false).is_empty());
        assert!(h.ready(1, || 7, false).is_empty());
        assert!(!h.started());
        let start = h.ready(2, || 7, false);
        assert_eq!(parse(&start[0]), ToNode::Start { start_unix_ns: 7 });
        assert!(h.started());
        assert_eq!(h.port(1), Some(4001));
    }

    #[test]
    fn a_restarted_satellite_rejoins_alone_with_the_same_lines() {
        let mut h = Handshake::new(2, None);
        let peers = h
            .bound(0, local(4000))
            .or_else(|| h.bound(1, local(4001)))
            .expect("peers");
        h.ready(0, || 9, false);
        let start = h.ready(1, || 9, false);
        h.rejoin(1);
        assert!(h.is_rejoining(1));
        let again = h.bound(1, local(4001)).expect("peers again");
        assert_eq!(parse(&again), parse(&peers));
        assert!(matches!(again, Send::One(1, _)));
        // The start it gets is the run's; then the stop already sent.
        let lines = h.ready(1, || 99, true);
        assert_eq!(parse(&lines[0]), parse(&start[0]));
        assert_eq!(parse(&lines[1]), ToNode::Stop);
        assert!(!h.is_rejoining(1));
    }
}
