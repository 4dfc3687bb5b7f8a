//! Property test of the port plan: whatever workloads and gateways a
//! scenario that parses holds, no satellite is handed one port twice.
//! (Here rather than in `ports`, which the scenario depends on: the test
//! builds whole scenarios.)

use std::collections::BTreeMap;
use std::fmt::Write as _;

use proptest::prelude::*;

use crate::Scenario;
use crate::Workload;
use crate::ports::{LOCAL, PortPlan, UDP_FLOWS};
use crate::scenario::{Gateway, GatewayProtocol};
use crate::units::SatId;
use crate::workload::Transport;

/// One workload or gateway of a random scenario on a ring of 8.
#[derive(Clone, Debug)]
enum Item {
    Bulk {
        from: u32,
        to: u32,
        tcp: bool,
        streams: u32,
    },
    Collective {
        ranks: Vec<u32>,
        tcp: bool,
    },
    Ping {
        from: u32,
        to: u32,
    },
    Expose {
        sat: u32,
        port: u16,
        udp: bool,
    },
}

fn item() -> impl Strategy<Value = Item> {
    let sat = 0u32..8;
    // A few ports often (to meet each other and the plan's), any other sometimes.
    let port = prop_oneof![
        prop::sample::select(vec![7u16, 9, 4433, 4434, 10_000, 10_001, 30_000, 50_000]),
        1u16..=65_535,
    ];
    prop_oneof![
        2 => (sat.clone(), 1u32..8, any::<bool>(), 1u32..9).prop_map(|(from, d, tcp, streams)| {
            Item::Bulk { from, to: (from + d) % 8, tcp, streams }
        }),
        1 => (Just((0u32..8).collect::<Vec<_>>()).prop_shuffle(), 2usize..=8, any::<bool>())
            .prop_map(|(all, k, tcp)| Item::Collective { ranks: all[..k].to_vec(), tcp }),
        1 => (sat, 1u32..8).prop_map(|(from, d)| Item::Ping { from, to: (from + d) % 8 }),
        // Gateways on the first satellites, to meet each other.
        3 => (0u32..3, port, any::<bool>())
            .prop_map(|(sat, port, udp)| Item::Expose { sat, port, udp }),
    ]
}

fn scenario(items: &[Item]) -> String {
    let mut t = String::from(
        "name = \"ports\"\nduration_s = 10\n[constellation]\nkind = \"walker\"\n\
         planes = 1\nper_plane = 8\naltitude_km = 1000\ninclination_deg = 53\n\
         [links]\nrate_gbps = 10\n",
    );
    let transport = |tcp: bool| if tcp { "tcp" } else { "quic" };
    for i in items {
        let _ = match i {
            Item::Bulk {
                from,
                to,
                tcp,
                streams,
            } => write!(
                t,
                "[[workload]]\nkind = \"bulk\"\nfrom = \"sat-{from}\"\nto = \"sat-{to}\"\n\
                 bytes = 1000\ntransport = \"{}\"\nstreams = {streams}\n",
                transport(*tcp)
            ),
            Item::Collective { ranks, tcp } => {
                let names: Vec<String> = ranks.iter().map(|r| format!("\"sat-{r}\"")).collect();
                write!(
                    t,
                    "[[workload]]\nkind = \"collective\"\nop = \"allreduce\"\n\
                     min_bytes = 1024\ntransport = \"{}\"\nranks = [{}]\n",
                    transport(*tcp),
                    names.join(", ")
                )
            }
            Item::Ping { from, to } => write!(
                t,
                "[[workload]]\nkind = \"ping\"\nfrom = \"sat-{from}\"\nto = \"sat-{to}\"\n"
            ),
            Item::Expose { sat, port, udp } => write!(
                t,
                "[[gateway]]\nsatellite = \"sat-{sat}\"\nexpose = \"{port}\"\n\
                 forward = \"127.0.0.1:9\"\nprotocol = \"{}\"\n",
                if *udp { "udp" } else { "tcp" }
            ),
        };
    }
    t
}

/// Every (satellite, protocol, port) a scenario's workloads and
/// gateways use, with who uses it; the first port used twice, if any.
fn uses(s: &Scenario) -> Result<usize, String> {
    let plan = PortPlan::new(&s.workloads).map_err(|e| e.to_string())?;
    let mut seen: BTreeMap<(u32, &str, u16), String> = BTreeMap::new();
    let mut take = |sat: SatId, proto: &'static str, port: u16, who: String| match seen
        .insert((sat.0, proto, port), who.clone())
    {
        Some(before) => Err(format!("sat-{} {proto} {port}: {before} and {who}", sat.0)),
        None => Ok(()),
    };
    for (w, wl) in s.workloads.iter().enumerate() {
        match wl {
            Workload::Bulk(b) if b.transport == Transport::Tcp => {
                for k in 0..b.streams {
                    let (listen, local) = plan.bulk(w, k);
                    take(b.to, "tcp", listen, format!("bulk {w} listens"))?;
                    take(b.from, "tcp", local, format!("bulk {w} connects"))?;
                }
            }
            Workload::Bulk(b) => {
                take(b.to, "udp", PortPlan::quic(w), format!("bulk {w}"))?;
                take(b.from, "udp", PortPlan::quic(w), format!("bulk {w}"))?;
            }
            Workload::Collective(c) if c.transport == Transport::Tcp => {
                for (si, &snd) in c.ranks.iter().enumerate() {
                    for (ri, &rcv) in c.ranks.iter().enumerate().filter(|(ri, _)| *ri != si) {
                        let (listen, local) = plan.collective(w, si, ri);
                        take(rcv, "tcp", listen, format!("collective {w} {ri} ← {si}"))?;
                        take(snd, "tcp", local, format!("collective {w} {si} → {ri}"))?;
                    }
                }
            }
            Workload::Collective(c) => {
                for &r in &c.ranks {
                    take(r, "udp", PortPlan::quic(w), format!("collective {w}"))?;
                }
            }
            _ => {}
        }
    }
    for (i, g) in s.gateways.iter().enumerate() {
        if let Gateway::Egress {
            satellite,
            port,
            protocol,
            ..
        } = *g
        {
            let proto = if protocol == GatewayProtocol::Udp {
                "udp"
            } else {
                "tcp"
            };
            take(satellite, proto, port, format!("gateway {i}"))?;
        }
    }
    // Ports handed out as they are needed come from ranges of
    // their own: connections a test or a gateway opens (TCP),
    // flows of UDP gateways.
    for ((_, proto, port), who) in &seen {
        let dynamic = if *proto == "tcp" {
            LOCAL.contains(port)
        } else {
            UDP_FLOWS.contains(port)
        };
        if dynamic && !who.starts_with("gateway") {
            return Err(format!("{who} uses {proto} {port}, handed out at run time"));
        }
    }
    Ok(seen.len())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Whatever workloads and gateways a valid scenario holds, no
    /// satellite is handed one port twice: each connection's
    /// listening and connecting ports, each QUIC endpoint and each
    /// exposed port are its own.
    #[test]
    fn no_satellite_gets_one_port_twice(items in prop::collection::vec(item(), 1..12)) {
        let text = scenario(&items);
        let parsed = Scenario::parse(&text, "ports.toml", &mut |_| Err("no files".into()));
        if let Ok(s) = parsed {
            prop_assert!(uses(&s).is_ok(), "{:?}\n{text}", uses(&s));
        }
    }
}
