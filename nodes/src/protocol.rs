//! The typed protocol between satellites and the launcher.
//!
//! A satellite reports [`Event`]s; the launcher answers with [`ToNode`]
//! messages. Between processes both travel as JSON lines (events on the
//! satellite's stdout, messages on its stdin); in one process they travel
//! as values on channels. Events are tagged by their `event` field, so the
//! lines of `events.jsonl` read as they always have:
//!
//! ```json
//! {"event":"echo","from":"sat-0","to":"sat-4","seq":3,"sent_s":0.6,"size":56,"rtt_ms":75.3}
//! ```
//!
//! The conversation of a satellite process:
//! 1. node → [`Event::Bound`] once its wire socket is open;
//! 2. launcher → [`ToNode::Peers`]: every node's wire address (and the run's
//!    certificate when a workload speaks QUIC);
//! 3. node → [`Event::Ready`]; launcher → [`ToNode::Start`];
//! 4. node → link, echo, stats and workload events; the launcher may send
//!    [`ToNode::Stop`] once every workload is over;
//! 5. node drains its wire for a moment (frames its neighbours sent before
//!    they stopped), → [`Event::Done`], and exits.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

/// What a satellite (or the launcher, for crashes) reports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    /// The wire socket is open on `port`.
    Bound { sat: String, port: u16 },
    /// Set up and waiting for the start instant.
    Ready { sat: String },
    /// A port's link changed state (the first report of each is its state at the start).
    Link(LinkChange),
    /// A periodic sample of the wire.
    Stats(Stats),
    /// Bytes a bulk receiver holds so far.
    BulkProgress(Progress),
    /// One echo request's fate.
    Echo(Echo),
    /// A bulk transfer's end, as its receiver saw it.
    Transfer(Transfer),
    /// One size of a collective sweep on one rank.
    Collective(RankReport),
    /// One training step on one rank.
    TrainStep(StepReport),
    /// One step of a graph workload (`trace` or `model`) on one rank.
    GraphStep(GraphStepReport),
    /// One node's part of one stage of an offload.
    Offload(OffloadReport),
    /// The satellite's last words: its counters.
    Done(Done),
    /// The satellite stopped on an error.
    Failed { sat: String, error: String },
    /// The launcher crashed a satellite on the fault schedule.
    Crash { sat: String, t_s: f64 },
    /// The launcher restarted it.
    Restart { sat: String, t_s: f64 },
}

impl Event {
    /// Whether this event may be a workload's last, so that the launcher
    /// checks whether every workload is over only after these.
    pub fn ends_workload(&self) -> bool {
        matches!(
            self,
            Event::Echo(_)
                | Event::Transfer(_)
                | Event::Collective(_)
                | Event::TrainStep(_)
                | Event::GraphStep(_)
                | Event::Offload(_)
        )
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinkChange {
    pub sat: String,
    pub t_s: f64,
    pub peer: String,
    pub link: u32,
    pub state: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub sat: String,
    pub t_s: f64,
    pub frames_in: u64,
    pub frames_out: u64,
    pub links_up: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub workload: usize,
    pub t_s: f64,
    pub bytes: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Echo {
    pub from: String,
    pub to: String,
    pub seq: u16,
    pub sent_s: f64,
    pub size: u32,
    /// `None`: lost (no reply within the ping's timeout).
    pub rtt_ms: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Transfer {
    pub workload: usize,
    pub from: String,
    pub to: String,
    pub transport: String,
    pub cc: String,
    pub bytes: u64,
    pub streams: u32,
    pub start_s: f64,
    pub completed_s: Option<f64>,
    pub received: u64,
    pub verified: bool,
    pub error: Option<String>,
}

/// One rank's figures for one size of a collective sweep. A rank that
/// could not connect, or timed out, reports once with no size.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RankReport {
    pub workload: usize,
    pub rank: usize,
    pub sat: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_s: Option<f64>,
    /// Virtual seconds per call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_s: Option<f64>,
    pub verified: bool,
    pub error: Option<String>,
    /// Chunks refused as malformed so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub malformed: Option<u64>,
}

/// One rank's figures for one training step. A rank that failed before
/// its steps reports once with no step figures.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StepReport {
    pub workload: usize,
    pub rank: usize,
    pub sat: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comm_s: Option<f64>,
    pub verified: bool,
    pub error: Option<String>,
}

/// One rank's step of a graph workload: when it ran and when each node
/// ran. A rank that failed before its first step reports once with no
/// step; a failed step carries the spans of the nodes that completed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GraphStepReport {
    pub workload: usize,
    pub rank: usize,
    pub sat: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<u64>,
    /// Virtual seconds: the step began when the rank's previous one ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_s: Option<f64>,
    /// Each node that ran, in the order they completed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spans: Vec<GraphSpan>,
    /// Every collective and receive carried the bytes it should.
    pub verified: bool,
    pub error: Option<String>,
}

/// What a node did for one part of an offload workload. Five reports make
/// a part: the ground station's uplink sending, the compute satellite's
/// uplink receiving, its compute and its downlink sending, and the
/// receiving station's downlink receiving.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OffloadReport {
    pub workload: usize,
    pub part: usize,
    /// The reporting node.
    pub node: String,
    pub role: OffloadRole,
    /// When the stage began: the leg's first try, the compute's start.
    pub start_s: f64,
    /// When it ended: the sender learnt the leg was over, the receiver
    /// checked the last byte, the compute finished (`None`: it failed or
    /// never finished).
    pub end_s: Option<f64>,
    /// Bytes of the leg (none for the compute).
    pub bytes: u64,
    /// Bytes the receiver holds, checked.
    pub received: u64,
    /// Each wait of the sender for a contact: [from, until] in virtual seconds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waits: Vec<[f64; 2]>,
    /// Connections the sender opened (one a contact, more after a failure).
    pub sessions: u32,
    pub verified: bool,
    pub error: Option<String>,
}

/// When one node of a rank's graph ran, in virtual nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphSpan {
    /// The node's index in the rank's graph.
    pub node: u32,
    pub start_ns: u64,
    pub end_ns: u64,
}

orbnet_netem::named! {
    /// Which stage of a part a node reports on, and from which end.
    pub enum OffloadRole {
        UplinkSend = "uplink-send",
        UplinkReceive = "uplink-receive",
        Compute = "compute",
        DownlinkSend = "downlink-send",
        DownlinkReceive = "downlink-receive",
    }
}

/// A satellite's counters.
///
/// They balance, summed over a run's satellites (see the launcher's
/// accounting): every frame handed to the wire (`frames_out`) was taken by
/// its neighbour (`frames_in`), failed to send (`send_errors`) or was
/// lost between the sockets (the rest of `seq_gaps`, which the receivers
/// count frame by frame; `kernel_drops` is the sockets' own count, where a
/// dropped batch of coalesced frames counts once); every packet a stack
/// offered its router (`offered`) was delivered (`delivered_local`),
/// dropped by a router (`drops`), lost on the wire as above, or was still
/// held at the stop (`in_flight`). `rejected` counts datagrams that were
/// no frame of the run (forged, copied, foreign): they are outside the sums.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Frames taken from the wire (after the checks).
    pub frames_in: u64,
    pub bytes_in: u64,
    /// Frames handed to the wire.
    pub frames_out: u64,
    /// Frames the wire could not send (a full or failing socket).
    pub send_errors: u64,
    /// Datagrams refused, by reason.
    pub rejected: BTreeMap<String, u64>,
    /// Packets this satellite's stack handed to its router.
    #[serde(default)]
    pub offered: u64,
    /// Frames taken from the wire and still held for their delivery
    /// instant when the run stopped.
    #[serde(default)]
    pub in_flight: u64,
    /// Datagrams the kernel dropped at the wire socket (its receive buffer
    /// was full), as the socket counts them (`SO_MEMINFO`'s drops, the
    /// figure `SO_RXQ_OVFL` reports).
    #[serde(default)]
    pub kernel_drops: u64,
    /// Frames missing from the sequences of this satellite's links: sent
    /// to it (or whose send failed), never taken (see
    /// [`crate::router::Router::seq_gaps`]).
    #[serde(default)]
    pub seq_gaps: u64,
    /// Packets this satellite's stack sent into the network (handed to
    /// the wire).
    pub sent: u64,
    /// Packets forwarded for others.
    pub forwarded: u64,
    /// Packets delivered to this satellite's stack.
    pub delivered_local: u64,
    /// Packets the router dropped, by reason.
    pub drops: BTreeMap<String, u64>,
}

impl Counters {
    /// Adds `other` into these counters.
    pub fn add(&mut self, other: &Counters) {
        self.frames_in += other.frames_in;
        self.bytes_in += other.bytes_in;
        self.frames_out += other.frames_out;
        self.send_errors += other.send_errors;
        self.offered += other.offered;
        self.in_flight += other.in_flight;
        self.kernel_drops += other.kernel_drops;
        self.seq_gaps += other.seq_gaps;
        self.sent += other.sent;
        self.forwarded += other.forwarded;
        self.delivered_local += other.delivered_local;
        for (into, from) in [
            (&mut self.rejected, &other.rejected),
            (&mut self.drops, &other.drops),
        ] {
            for (k, v) in from {
                *into.entry(k.clone()).or_default() += v;
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Done {
    pub sat: String,
    /// The virtual instant the satellite stopped at.
    pub t_s: f64,
    #[serde(flatten)]
    pub counters: Counters,
    /// The latest, in virtual microseconds, a due frame was processed.
    pub late_max_us: f64,
    /// The virtual instant the frame processed latest was due.
    #[serde(default)]
    pub late_max_at_s: f64,
}

/// A launcher message that broke the protocol.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    #[error("not a message: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error("{got} peers for {want} nodes")]
    PeerCount { got: usize, want: usize },
    #[error("expected {want}, got {got:?}")]
    Unexpected { want: &'static str, got: ToNode },
}

/// What the launcher tells a satellite process.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "msg", rename_all = "kebab-case")]
pub enum ToNode {
    /// Every node's wire address, by index; the run's certificate and key
    /// (hex DER) when a workload speaks QUIC.
    Peers {
        peers: Vec<SocketAddr>,
        #[serde(default)]
        tls_cert: Option<String>,
        #[serde(default)]
        tls_key: Option<String>,
    },
    /// Virtual zero is this Unix instant.
    Start { start_unix_ns: u64 },
    /// Every workload is over: stop now.
    Stop,
}

impl ToNode {
    /// The message as one JSON line.
    pub fn line(&self) -> String {
        // Serializing these plain types cannot fail.
        let mut s = serde_json::to_string(self).unwrap_or_default();
        s.push('\n');
        s
    }
}

impl Event {
    /// The event as one JSON line (no newline).
    pub fn json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_keep_their_field_names() {
        let e = Event::Echo(Echo {
            from: "sat-0".into(),
            to: "sat-4".into(),
            seq: 3,
            sent_s: 0.6,
            size: 56,
            rtt_ms: None,
        });
        let v: serde_json::Value = serde_json::from_str(&e.json()).expect("json");
        assert_eq!(v["event"], "echo");
        assert_eq!(v["seq"], 3);
        assert!(v["rtt_ms"].is_null());
        let back: Event = serde_json::from_value(v).expect("parses back");
        assert_eq!(back, e);
        let d = Event::Done(Done {
            sat: "sat-1".into(),
            t_s: 1.0,
            counters: Counters {
                frames_in: 7,
                ..Counters::default()
            },
            late_max_us: 2.5,
            late_max_at_s: 0.5,
        });
        let v: serde_json::Value = serde_json::from_str(&d.json()).expect("json");
        assert_eq!(
            (v["event"].as_str(), v["frames_in"].as_u64()),
            (Some("done"), Some(7))
        );
        let t = Event::TrainStep(StepReport::default());
        assert!(t.json().starts_with("{\"event\":\"train-step\""));
    }

    #[test]
    fn messages_round_trip() {
        for m in [
            ToNode::Peers {
                peers: vec!["127.0.0.1:4000".parse().expect("addr")],
                tls_cert: None,
                tls_key: Some("ab".into()),
            },
            ToNode::Start { start_unix_ns: 5 },
            ToNode::Stop,
        ] {
            let back: ToNode = serde_json::from_str(m.line().trim_end()).expect("parses");
            assert_eq!(back, m);
        }
    }
}
