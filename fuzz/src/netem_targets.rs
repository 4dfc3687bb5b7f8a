//! Fuzz targets over the inputs `orbnet-netem` reads: scenario files,
//! element sets, ground-station files and Chakra execution traces. (Included by
//! `netem/tests/fuzz_corpus.rs`, so it names only `orbnet_netem` and what
//! netem itself depends on.)

use orbnet_netem::chakra::{RankGraph, decode_trace};
use orbnet_netem::orbit::{Orbit, TleOrbit};
use orbnet_netem::scenario::parse_element_sets;
use orbnet_netem::{Scenario, SimTime};

/// A scenario file through parsing and validation. Files it refers to
/// (element sets, traces) do not exist: the parser must say so, not panic.
/// A scenario that parses holds what its validation promises.
pub fn scenario_toml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = Scenario::parse(text, "fuzz.toml", &mut |path: &str| {
        Err(format!("no file {path} while fuzzing"))
    });
    let Ok(s) = parsed else { return };
    assert!(s.world.satellites() > 0, "a scenario with no satellite");
    // Ground stations are nodes after the satellites.
    let n = s.world.nodes();
    assert!(n >= s.world.satellites());
    assert_eq!(s.world.names().len(), n as usize);
    for i in 0..n {
        let me = orbnet_netem::SatId(i);
        assert_eq!(s.world.find(s.world.name(me)), Some(me), "names are unique");
    }
    assert!(s.duration > orbnet_netem::SimDuration::ZERO);
    assert!(s.tdf.factor() > 0.0);
}

/// Element sets (three-line, two-line, OMM JSON): parsed, then propagated
/// as a scenario would (SGP4 from the set's epoch to a scenario epoch).
pub fn element_sets(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(sets) = parse_element_sets(text) else {
        return;
    };
    let epoch = chrono::DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default();
    for (_, elements) in sets.iter().take(16) {
        let Ok(orbit) = TleOrbit::new(elements, epoch) else {
            continue;
        };
        for t in [0, 60, 5400] {
            let p = orbit.position(SimTime::from_secs_f64(f64::from(t)));
            // A decayed orbit freezes at the origin; anything else is finite.
            assert!(p.x.is_finite() && p.y.is_finite() && p.z.is_finite());
        }
    }
}

/// A Chakra execution trace, decoded, then read as one rank's graph.
pub fn chakra_trace(data: &[u8]) {
    let Ok(trace) = decode_trace(data, "fuzz.0.et") else {
        return;
    };
    let Ok(graph) = RankGraph::from_trace(&trace, "fuzz.0.et") else {
        return;
    };
    // Every dependency names a node of the graph before it: the graph is
    // in an order its dependencies allow, so a rank can run it in order.
    let nodes = graph.nodes();
    assert!(nodes.len() <= trace.nodes.len());
    for (i, n) in nodes.iter().enumerate() {
        for &d in n.data_deps.iter().chain(&n.ctrl_deps) {
            assert!(d < i, "node {i} depends on node {d}, not before it");
        }
    }
}

/// A ground-station file (CSV with a header, or Hypatia's
/// `ground_stations.txt` in its basic or extended form) as a scenario's
/// `[ground] stations` reads it, over four satellites. A file that loads
/// makes one node per station after the satellites, with unique names.
pub fn ground_stations(data: &[u8]) {
    const SCENARIO: &str = "name = \"fuzz\"\nduration_s = 1\n\
        [constellation]\nkind = \"walker\"\nplanes = 1\nper_plane = 4\n\
        altitude_km = 550\ninclination_deg = 53\n\
        [ground]\nstations = \"stations.txt\"\n";
    let parsed = Scenario::parse_bytes(SCENARIO, "fuzz.toml", &mut |_: &str| Ok(data.to_vec()));
    let Ok(s) = parsed else { return };
    let w = &s.world;
    let stations = w.ground().map_or(0, |g| g.stations().len());
    assert!(stations > 0, "a stations file that loads names a station");
    assert_eq!(w.nodes() as usize, w.satellites() as usize + stations);
    let mut labels: Vec<&str> = (w.satellites()..w.nodes())
        .map(|i| w.label(orbnet_netem::SatId(i)))
        .collect();
    labels.sort_unstable();
    let n = labels.len();
    labels.dedup();
    assert_eq!(labels.len(), n, "station names are unique");
}
