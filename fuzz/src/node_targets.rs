//! Fuzz targets over the inputs `orbnet-node` reads: frames from the wire,
//! IP packets its router forwards, and the launcher's JSON lines.
//! (Included by `nodes/tests/fuzz_corpus.rs`, so it names only
//! `orbnet_node`, `orbnet_netem` and what nodes itself depends on.)

use std::sync::{Arc, OnceLock};

use orbnet_netem::routing::Routes;
use orbnet_netem::{SatId, Scenario, SimTime, Snapshot};
use orbnet_node::protocol::{Event, ToNode};
use orbnet_node::replay::ReplayWindow;
use orbnet_node::router::{Decision, Router};
use orbnet_node::wire::{Frame, FrameError, Framed, HEADER_LEN, Header};

/// The run token of the fuzzed frames (the corpus's frames carry it).
pub const TOKEN: u64 = 0x6f72_626e_6675_7a7a;

/// A datagram from the wire: parsed with the run's token; a frame that
/// parses is exactly what its header and packet emit again, is refused
/// under any other token, and its sequence number passes a fresh window
/// once.
pub fn wire_frame(data: &[u8]) {
    let frame = match Frame::parse(data, TOKEN) {
        Ok(f) => f,
        Err(e) => {
            assert!(!e.as_str().is_empty());
            return;
        }
    };
    let again = if frame.end {
        frame.header.end_frame()
    } else {
        frame.header.frame(frame.packet)
    };
    assert_eq!(again, data, "re-emitted");
    assert_eq!(frame.packet.len() + HEADER_LEN, data.len());
    assert_eq!(
        Frame::parse(data, !TOKEN).map(|f| f.header),
        Err(FrameError::WrongToken)
    );
    let mut w = ReplayWindow::new();
    let seq = frame.header.seq;
    assert_eq!(w.check(seq).is_ok(), seq != 0);
    assert!(w.check(seq).is_err(), "a copy passed");
}

/// Eight satellites in a ring at 1000 km, 45° apart, each linked to the
/// next at 1 Gb/s, with short queues and some loss: every drop reason
/// of the router is reachable.
const RING: &str = r#"
name = "fuzz-ring"
duration_s = 10
[constellation]
kind = "walker"
planes = 1
per_plane = 8
altitude_km = 1000
inclination_deg = 53
[links]
pattern = "plus-grid"
rate_gbps = 1
queue_bytes = 20000
loss = 0.05
"#;

/// The ring and its routes at time zero, made once.
struct Ring {
    scenario: Scenario,
    snapshot: Snapshot,
    routes: Arc<Routes>,
}

fn ring() -> &'static Ring {
    static RING_WORLD: OnceLock<Ring> = OnceLock::new();
    RING_WORLD.get_or_init(|| {
        let scenario = Scenario::parse(RING, "fuzz-ring.toml", &mut |_| Err("no files".into()))
            .unwrap_or_else(|e| panic!("the fuzz ring is valid: {e}"));
        let snapshot = scenario
            .world
            .timeline(scenario.routing_interval)
            .at(SimTime::ZERO);
        let routes = Arc::new(Routes::new(Arc::new(snapshot.clone())));
        Ring {
            scenario,
            snapshot,
            routes,
        }
    })
}

/// An arbitrary IP packet through one satellite's router. The first byte
/// chooses the satellite (low 3 bits), whether the packet came from a
/// link (bit 3) and how many copies are routed back to back (high 4
/// bits, so that queues fill); the rest is the packet. Whatever the
/// router decides must be sound, and its counters must add up.
pub fn router_packet(data: &[u8]) {
    let Some((&control, packet)) = data.split_first() else {
        return;
    };
    let r = ring();
    let world = &r.scenario.world;
    let me = SatId(u32::from(control & 7));
    let from_link = control & 8 != 0;
    let copies = 1 + u64::from(control >> 4);
    let links = world.links_of(me).map(|(l, p)| (l, p, world.model_of(l)));
    let mut router = Router::new(me, TOKEN, r.scenario.seed, links);
    router.update(&r.snapshot, Some(r.routes.clone()));
    for k in 0..copies {
        let now = SimTime::from_nanos(k * 1000);
        match router.route(now, Framed::from_packet(packet), from_link) {
            Decision::Local(p) => {
                let p = p.packet();
                assert_eq!(p, packet, "a local packet is handed up as it came");
                assert_eq!(
                    p.get(16..20),
                    Some(&orbnet_node::addr::address(me).octets()[..])
                );
            }
            Decision::Send { link, peer, frame } => {
                assert_eq!(router.peer(link), Some(peer), "sent on a port of ours");
                let f = Frame::parse(&frame, TOKEN).unwrap_or_else(|e| panic!("sent {e:?}"));
                assert_eq!(f.header.link, link);
                assert!(f.header.deliver >= now, "delivered before it was sent");
                check_forwarded(packet, f.packet, from_link, &f.header);
            }
            Decision::Drop(why) => assert!(!why.as_str().is_empty()),
        }
    }
    let routed = router.offered + if from_link { copies } else { 0 };
    let outcomes = router.delivered_local
        + router.sent
        + router.forwarded
        + router.drops.values().sum::<u64>();
    assert_eq!(routed, outcomes, "every packet routed has one outcome");
}

/// A packet on its way: as it came, but for its TTL, one lower when it
/// came from a link, and its header checksum, made again.
fn check_forwarded(came: &[u8], went: &[u8], from_link: bool, header: &Header) {
    assert_eq!(came.len(), went.len());
    assert!(header.seq > 0);
    for (i, (a, b)) in came.iter().zip(went).enumerate() {
        match i {
            8 if from_link => assert_eq!(a.wrapping_sub(1), *b, "TTL"),
            10 | 11 if from_link => {}
            _ => assert_eq!(a, b, "byte {i} changed"),
        }
    }
    if from_link {
        let ihl = usize::from(went[0] & 0x0f) * 4;
        assert_eq!(ip_checksum(&went[..ihl]), 0, "header checksum");
    }
}

/// The one's-complement sum of an IPv4 header (0 when its checksum is right).
fn ip_checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = header
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The launcher's protocol: each line as a satellite's event and as a
/// message to a satellite. What parses serializes again, and that parses
/// back to the same value.
pub fn protocol_lines(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for line in text.lines().take(64) {
        if let Ok(e) = serde_json::from_str::<Event>(line) {
            let again: Event = serde_json::from_str(&e.json())
                .unwrap_or_else(|err| panic!("{} does not parse back: {err}", e.json()));
            assert_eq!(again.json(), e.json());
        }
        if let Ok(m) = serde_json::from_str::<ToNode>(line) {
            let again: ToNode = serde_json::from_str(m.line().trim_end())
                .unwrap_or_else(|err| panic!("{} does not parse back: {err}", m.line()));
            assert_eq!(again, m);
        }
    }
}
