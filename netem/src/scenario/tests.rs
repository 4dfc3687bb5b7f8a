//! The scenario parser's tests: every kind of bad file, and the good ones.

use super::*;
use crate::units::SatId;
use crate::workload::Cc;

/// Three of topologies/demo-plane.tle's element sets, as TLE and as the
/// OMM JSON CelesTrak serves for the same elements.
const DEMO_TLE: &str = "DEMO-1
1 90001U 26001A   26001.00000000  .00000000  00000-0  00000-0 0  9998
2 90001  53.0000   0.0000 0001000   0.0000   0.0000 15.05490646    12
DEMO-2
1 90002U 26001A   26001.00000000  .00000000  00000-0  00000-0 0  9999
2 90002  53.0000   0.0000 0001000   0.0000  30.0000 15.05490646    16
DEMO-3
1 90003U 26001A   26001.00000000  .00000000  00000-0  00000-0 0  9990
2 90003  53.0000   0.0000 0001000   0.0000  60.0000 15.05490646    10
";

fn demo_omm() -> String {
    let one = |n: u32, ma: f64| {
        format!(
            r#"{{"OBJECT_NAME":"DEMO-{n}","OBJECT_ID":"2026-001A","EPOCH":"2026-01-01T00:00:00.000000",
"MEAN_MOTION":15.05490646,"ECCENTRICITY":0.0001,"INCLINATION":53,"RA_OF_ASC_NODE":0,
"ARG_OF_PERICENTER":0,"MEAN_ANOMALY":{ma},"EPHEMERIS_TYPE":0,"CLASSIFICATION_TYPE":"U",
"NORAD_CAT_ID":{},"ELEMENT_SET_NO":999,"REV_AT_EPOCH":1,"BSTAR":0,"MEAN_MOTION_DOT":0,"MEAN_MOTION_DDOT":0}}"#,
            90000 + n
        )
    };
    format!("[{},{},{}]", one(1, 0.0), one(2, 30.0), one(3, 60.0))
}

fn tle_scenario(file: &str, extra: &str, content: String) -> Result<Scenario, ScenarioError> {
    let text = format!(
        "name = \"t\"\n[constellation]\nkind = \"tle\"\nfile = \"{file}\"\n{extra}\n[links]\npattern = \"all\"\nrate_gbps = 10\n"
    );
    Scenario::parse(&text, "x.toml", &mut |_| Ok(content.clone()))
}

#[test]
fn tle_and_omm_of_the_same_satellites_plan_the_same_distances() {
    let tle = tle_scenario("d.tle", "", DEMO_TLE.to_owned()).expect("TLE");
    let omm = tle_scenario("d.json", "", demo_omm()).expect("OMM");
    assert_eq!(tle.world.names(), omm.world.names());
    for minutes in [0.0, 17.0, 95.0, 600.0] {
        let t = SimTime::from_secs_f64(minutes * 60.0);
        let (a, b) = (tle.world.snapshot(t), omm.world.snapshot(t));
        assert_eq!(a.links.len(), 3);
        for (x, y) in a.links.iter().zip(&b.links) {
            assert!((x.distance.0 - y.distance.0).abs() < 1.0, "{x:?} vs {y:?}");
            // 30° apart on a 7 000 km orbit: thousands of km, not zero.
            assert!(x.distance.km() > 1000.0);
        }
    }
}

#[test]
fn gateways_are_checked() {
    let g = |body: &str| format!("{RING}[[gateway]]\n{body}\n");
    let s = parse(&g(
        "satellite = \"sat-0\"\nlisten = \"127.0.0.1:15201\"\nto = \"sat-2:5201\"\nprotocol = \"udp\"",
    ))
    .expect("valid");
    assert_eq!(
        s.gateways,
        [Gateway::Ingress {
            satellite: SatId(0),
            listen: "127.0.0.1:15201".parse().expect("addr"),
            to: SatId(2),
            port: 5201,
            protocol: GatewayProtocol::Udp,
        }]
    );
    let e = parse(&g(
        "satellite = \"sat-2\"\nexpose = 5201\nforward = \"127.0.0.1:5201\"",
    ))
    .expect("valid");
    assert!(matches!(
        e.gateways[0],
        Gateway::Egress {
            port: 5201,
            protocol: GatewayProtocol::Tcp,
            ..
        }
    ));
    rejects(
        &g(
            "satellite = \"sat-0\"\nlisten = \"127.0.0.1:1\"\nto = \"sat-2:1\"\nprotocol = \"sctp\"",
        ),
        "gateway[0].protocol",
        "\"tcp\" or \"udp\"",
    );
    rejects(
        &g("satellite = \"sat-0\"\nlisten = \"10.0.0.1:1\"\nto = \"sat-2:1\""),
        "gateway[0].listen",
        "loopback",
    );
    rejects(
        &g("satellite = \"sat-0\"\nlisten = \"127.0.0.1:1\"\nto = \"sat-99:1\""),
        "gateway[0].to",
        "no satellite",
    );
    rejects(
        &g("satellite = \"sat-0\"\nlisten = \"127.0.0.1:1\""),
        "gateway[0]",
        "needs",
    );
    // One port of one satellite, or one kernel address, serves one gateway
    // (found by ports::tests::properties); other protocols or satellites
    // may share the number.
    let out = |sat: &str, port: u16, proto: &str| {
        format!(
            "[[gateway]]\nsatellite = \"{sat}\"\nexpose = {port}\nforward = \"127.0.0.1:9\"\nprotocol = \"{proto}\"\n"
        )
    };
    rejects(
        &format!("{RING}{}{}", out("sat-2", 9, "udp"), out("sat-2", 9, "udp")),
        "gateway[1].expose",
        "udp port 9 of sat-2 is gateway[0]'s already",
    );
    let ok = format!(
        "{RING}{}{}{}",
        out("sat-2", 9, "udp"),
        out("sat-2", 9, "tcp"),
        out("sat-3", 9, "udp")
    );
    assert_eq!(parse(&ok).expect("valid").gateways.len(), 3);
    let into =
        "[[gateway]]\nsatellite = \"sat-0\"\nlisten = \"127.0.0.1:15201\"\nto = \"sat-2:7\"\n";
    rejects(
        &format!("{RING}{into}{}", into.replace("sat-0", "sat-1")),
        "gateway[1].listen",
        "tcp address 127.0.0.1:15201 is gateway[0]'s already",
    );
}

#[test]
fn faults_are_checked_and_scheduled() {
    use crate::topology::LinkState;
    let f = |body: &str| format!("{RING}[[fault]]\n{body}\n");
    let s = parse(&f(
        "at_s = 2\nkind = \"link-down\"\na = \"sat-1\"\nb = \"sat-2\"\nfor_s = 3",
    ))
    .expect("valid");
    let l = s
        .world
        .candidates()
        .iter()
        .position(|&(a, b)| (a, b) == (SatId(1), SatId(2)))
        .expect("candidate");
    let state = |t: f64| s.world.snapshot(SimTime::from_secs_f64(t)).links[l].state;
    assert_eq!(state(1.9), LinkState::Up);
    assert_eq!(state(2.0), LinkState::Down);
    assert_eq!(state(4.9), LinkState::Down);
    assert_eq!(state(5.0), LinkState::Up);
    let p = parse(&f(
        "at_s = 0\nkind = \"partition\"\na = [\"sat-0\", \"sat-1\"]\nb = [\"sat-2\"]",
    ))
    .expect("valid");
    assert_eq!(
        p.world.snapshot(SimTime::ZERO).links[l].state,
        LinkState::Down
    );
    rejects(
        &f("at_s = 1\nkind = \"meteor\"\na = \"sat-1\"\nb = \"sat-2\""),
        "fault[0].kind",
        "must be one of",
    );
    // A crash, then a restart: sat-1's links are down in between only.
    let c = parse(&format!(
        "{RING}[[fault]]\nat_s = 1\nkind = \"satellite-crash\"\na = \"sat-1\"\n\
         [[fault]]\nat_s = 3\nkind = \"satellite-restart\"\na = \"sat-1\"\n"
    ))
    .expect("valid");
    let crashed = |t: f64| c.world.snapshot(SimTime::from_secs_f64(t)).links[l].state;
    assert_eq!(crashed(0.9), LinkState::Up);
    assert_eq!(crashed(1.0), LinkState::Down);
    assert_eq!(crashed(3.0), LinkState::Up);
    rejects(
        &f("at_s = 1\nkind = \"satellite-restart\"\na = \"sat-1\""),
        "fault[0].a",
        "no crash under way",
    );
    rejects(
        &format!(
            "{RING}[[fault]]\nat_s = 1\nkind = \"satellite-crash\"\na = \"sat-1\"\nfor_s = 3\n\
             [[fault]]\nat_s = 2\nkind = \"satellite-crash\"\na = \"sat-1\"\n"
        ),
        "fault[1].at_s",
        "still down",
    );
    // Crash, restart, crash again: fine.
    parse(&format!(
        "{RING}[[fault]]\nat_s = 1\nkind = \"satellite-crash\"\na = \"sat-1\"\nfor_s = 1\n\
         [[fault]]\nat_s = 2\nkind = \"satellite-crash\"\na = \"sat-1\"\n"
    ))
    .expect("valid");
    rejects(
        &f("at_s = 1\nkind = \"satellite-restart\"\na = \"sat-1\"\nfor_s = 2"),
        "fault[0].for_s",
        "an instant",
    );
    rejects(
        &f("at_s = 1\nkind = \"link-down\"\na = \"sat-1\"\nb = \"sat-99\""),
        "fault[0].b",
        "no satellite",
    );
    rejects(
        &f("at_s = 1\nkind = \"link-down\"\na = \"sat-1\""),
        "fault[0].b",
        "missing",
    );
    rejects(
        &f("at_s = 1\nkind = \"loss-burst\"\na = \"sat-1\"\nb = \"sat-2\"\nloss = 2"),
        "fault[0].loss",
        "[0, 1]",
    );
    rejects(
        &f("at_s = 1\nkind = \"link-down\"\na = \"sat-1\"\nb = \"sat-2\"\nfor_s = 0"),
        "fault[0].for_s",
        "> 0",
    );
}

#[test]
fn element_sets_are_selected_by_name_pattern() {
    let s = tle_scenario("d.tle", "names = \"DEMO-[23]\"", DEMO_TLE.to_owned()).expect("valid");
    assert_eq!(s.world.names(), ["DEMO-2", "DEMO-3"]);
    let s = tle_scenario("d.json", "names = \"DEMO-*\"\ncount = 1", demo_omm()).expect("valid");
    assert_eq!(s.world.names(), ["DEMO-1"]);
    let e = tle_scenario("d.tle", "names = \"STARLINK-*\"", DEMO_TLE.to_owned()).expect_err("none");
    assert_eq!(e.field, "constellation.names");
    let e = tle_scenario("d.tle", "names = \"[\"", DEMO_TLE.to_owned()).expect_err("bad glob");
    assert_eq!(e.field, "constellation.names");
}

const RING: &str = r#"
name = "ring-12"
epoch = "2026-01-01T00:00:00Z"
seed = 1
tdf = 1
duration_s = 30
[constellation]
kind = "walker"
planes = 1
per_plane = 12
altitude_km = 800
inclination_deg = 53
[links]
pattern = "plus-grid"
rate_gbps = 10
mtu = 9000
grazing_km = 80
max_range_km = 6000
acquisition_s = 0
ber = 1e-12
[[workload]]
kind = "ping"
from = "sat-0"
to = "sat-6"
interval_ms = 100
count = 50
"#;

fn no_files(path: &str) -> Result<String, String> {
    Err(format!("no file {path}"))
}

fn parse(text: &str) -> Result<Scenario, ScenarioError> {
    Scenario::parse(text, "x.toml", &mut no_files)
}

fn rejects(text: &str, field: &str, reason_part: &str) {
    match parse(text) {
        Ok(_) => panic!("accepted; expected {field}: {reason_part}"),
        Err(e) => {
            assert_eq!(e.file, "x.toml");
            assert_eq!(e.field, field, "{e}");
            assert!(e.reason.contains(reason_part), "{e}");
        }
    }
}

#[test]
fn the_issue_example_parses() {
    let s = parse(RING).expect("valid");
    assert_eq!(s.name, "ring-12");
    assert_eq!(s.world.satellites(), 12);
    assert_eq!(s.world.candidates().len(), 12);
    assert_eq!(s.world.name(SatId(6)), "sat-6");
    assert_eq!(s.workloads.len(), 1);
}

#[test]
fn negative_rate_names_the_field() {
    let e = parse(&RING.replace("rate_gbps = 10", "rate_gbps = -5")).expect_err("bad");
    assert_eq!(
        e.to_string(),
        "x.toml: links.rate_gbps: must be > 0 (got -5)"
    );
}

#[test]
fn each_kind_of_bad_file_is_rejected() {
    rejects("name = ", "line 1, column 8", "not valid TOML");
    rejects(
        &RING.replace("mtu = 9000", "mtu = 9000\ncolour = 3"),
        "links.colour",
        "unknown field `colour`",
    );
    rejects(
        &RING.replace("seed = 1", "seed = \"one\""),
        "seed",
        "invalid type",
    );
    rejects(
        &RING.replace("kind = \"walker\"", "kind = \"spiral\""),
        "constellation.kind",
        "must be one of",
    );
    rejects(
        &RING.replace("per_plane = 12", "per_plane = 0"),
        "constellation.per_plane",
        "≥ 1",
    );
    rejects(
        &RING.replace("per_plane = 12\n", ""),
        "constellation",
        "missing field `per_plane`",
    );
    rejects(
        &RING.replace("inclination_deg = 53", "inclination_deg = 200"),
        "constellation.inclination_deg",
        "[0, 180]",
    );
    rejects(
        &RING.replace("altitude_km = 800", "altitude_km = -1"),
        "constellation.altitude_km",
        "",
    );
    rejects(&RING.replace("tdf = 1", "tdf = 0"), "tdf", "> 0");
    rejects(
        &RING.replace("duration_s = 30", "duration_s = -3"),
        "duration_s",
        "> 0",
    );
    rejects(
        &RING.replace("2026-01-01T00:00:00Z", "yesterday"),
        "epoch",
        "RFC 3339",
    );
    rejects(
        &RING.replace("mtu = 9000", "mtu = 100"),
        "links.mtu",
        "[576, 65463]",
    );
    rejects(
        &RING.replace("mtu = 9000", "mtu = 65464"),
        "links.mtu",
        "one UDP datagram",
    );
    rejects(
        &RING.replace("ber = 1e-12", "ber = 2"),
        "links.ber",
        "[0, 1)",
    );
}

#[test]
fn each_kind_of_bad_link_or_workload_is_rejected() {
    rejects(
        &RING.replace("\"plus-grid\"", "\"mesh\""),
        "links.pattern",
        "must be one of",
    );
    rejects(
        &RING.replace("to = \"sat-6\"", "to = \"sat-60\""),
        "workload[0].to",
        "no satellite named \"sat-60\"",
    );
    rejects(
        &RING.replace("count = 50", "count = 50\nfoo = 1"),
        "workload[0].foo",
        "unknown field `foo`",
    );
    rejects(
        &RING.replace("kind = \"ping\"", "kind = \"pong\""),
        "workload[0].kind",
        "must be one of",
    );
    rejects(
        &RING.replace("max_range_km = 6000", "max_range_km = 0"),
        "links.max_range_km",
        "> 0",
    );
    rejects(
        &RING.replace("pattern = \"plus-grid\"", "pattern = \"plus-grid\"\nk = 2"),
        "links.k",
        "only for",
    );
    rejects(
        &RING.replace("kind = \"walker\"", "kind = \"tle\"\nfile = \"none.tle\""),
        "constellation.altitude_km",
        "unknown field",
    );
    rejects(
        &RING.replace(
            "[links]",
            "[links]\nburst = { p_good_bad = 2, p_bad_good = 0.5 }",
        ),
        "links.burst.p_good_bad",
        "[0, 1]",
    );
    rejects(
        &RING.replace("name = \"ring-12\"", "name = \"\""),
        "name",
        "empty",
    );
    rejects(
        &RING.replace("name = \"ring-12\"\n", ""),
        "",
        "missing field `name`",
    );
}

#[test]
fn bulk_workloads_are_checked() {
    let bulk = format!(
        "{RING}[[workload]]\nkind = \"bulk\"\nfrom = \"sat-0\"\nto = \"sat-3\"\nbytes = 1000\n"
    );
    let s = parse(&bulk).expect("valid");
    let Workload::Bulk(b) = s.workloads[1] else {
        panic!("not bulk")
    };
    assert_eq!(
        (b.transport, b.cc, b.streams),
        (Transport::Quic, Cc::Cubic, 1)
    );
    let with = |extra: &str| bulk.replace("bytes = 1000", &format!("bytes = 1000\n{extra}"));
    rejects(
        &bulk.replace("bytes = 1000", "bytes = 0"),
        "workload[1].bytes",
        "≥ 1",
    );
    rejects(
        &with("transport = \"udp\""),
        "workload[1].transport",
        "must be",
    );
    rejects(
        &with("transport = \"tcp\"\ncc = \"bbr\""),
        "workload[1].cc",
        "QUIC",
    );
    rejects(&with("cc = \"vegas\""), "workload[1].cc", "must be one of");
    rejects(&with("streams = 0"), "workload[1].streams", "[1, 64]");
    rejects(&with("timeout_s = -1"), "workload[1].timeout_s", "> 0");
    rejects(&with("sender = 1"), "workload[1].sender", "unknown field");
    rejects(
        &bulk.replace("mtu = 9000", "mtu = 1000"),
        "workload[1].transport",
        "QUIC needs links.mtu ≥ 1228",
    );
    // TCP has no such floor.
    assert!(parse(&with("transport = \"tcp\"").replace("mtu = 9000", "mtu = 1000")).is_ok());
}

#[test]
fn collective_and_train_workloads_are_checked() {
    let c = format!("{RING}[[workload]]\nkind = \"collective\"\nmin_bytes = 1024\n");
    let s = parse(&c).expect("valid");
    let Workload::Collective(w) = &s.workloads[1] else {
        panic!("not a collective")
    };
    assert_eq!(w.ranks.len(), 12);
    assert_eq!(w.sizes, vec![1024]);
    let with = |extra: &str| c.replace("min_bytes = 1024", &format!("min_bytes = 1024\n{extra}"));
    rejects(&with("op = \"allsum\""), "workload[1].op", "must be one of");
    rejects(
        &with("algorithm = \"star\""),
        "workload[1].algorithm",
        "must be",
    );
    rejects(&with("dtype = \"f64\""), "workload[1].dtype", "must be");
    rejects(
        &with("max_bytes = 10"),
        "workload[1].max_bytes",
        "must be in",
    );
    rejects(
        &with("max_bytes = 4294967296"),
        "workload[1].max_bytes",
        "must be in",
    );
    rejects(&with("factor = 1"), "workload[1].factor", "≥ 2");
    rejects(&with("ranks = 1"), "workload[1].ranks", "[2, 12]");
    rejects(
        &with("ranks = [\"sat-0\", \"sat-99\"]"),
        "workload[1].ranks[1]",
        "no satellite",
    );
    rejects(
        &with("ranks = [\"sat-0\", \"sat-0\"]"),
        "workload[1].ranks[1]",
        "twice",
    );
    rejects(
        &with("ranks = \"all\""),
        "workload[1].ranks",
        "count or a list",
    );
    let t = format!("{RING}[[workload]]\nkind = \"train\"\nparams = 1e6\ntokens_per_step = 1000\n");
    rejects(&t, "workload[1]", "[accelerator]");
    let acc = format!("{t}[accelerator]\npeak_tflops = 100\n");
    let s = parse(&acc).expect("valid");
    assert_eq!(s.accelerator.as_ref().map(|a| a.peak_flops), Some(1e14));
    rejects(
        &acc.replace("params = 1e6", "params = 1e12"),
        "workload[1].params",
        "exceed",
    );
    rejects(
        &acc.replace("peak_tflops = 100", "peak_tflops = 0"),
        "accelerator.peak_tflops",
        "> 0",
    );
}

#[test]
fn a_missing_tle_file_names_the_field() {
    let text = RING.replace(
        "kind = \"walker\"\nplanes = 1\nper_plane = 12\naltitude_km = 800\ninclination_deg = 53",
        "kind = \"tle\"\nfile = \"gone.tle\"",
    ).replace("pattern = \"plus-grid\"", "pattern = \"all\"").replace("sat-0", "A").replace("sat-6", "B");
    rejects(&text, "constellation.file", "cannot read gone.tle");
}

#[test]
fn garbage_never_panics() {
    // Every prefix of a valid file, and a few byte-level mutations of it.
    for end in 0..RING.len() {
        if RING.is_char_boundary(end) {
            let _ = parse(&RING[..end]);
        }
    }
    let bytes = RING.as_bytes();
    for i in (0..bytes.len()).step_by(3) {
        for b in [b'"', b'=', b'[', b'\n', b'-', b'9'] {
            let mut m = bytes.to_vec();
            m[i] = b;
            if let Ok(s) = std::str::from_utf8(&m) {
                let _ = parse(s);
            }
        }
    }
}

#[test]
fn sun_synchronous_inclination_at_650_km() {
    // About 97.98° for a circular orbit at 650 km.
    let i = sun_synchronous_inclination(650e3).expect("exists");
    assert!((i - 97.98).abs() < 0.05, "{i}");
}

/// A Walker shell of 2 × 6 and the three demo element sets, joined.
fn two_shells(extra: &str) -> String {
    format!(
        r#"
name = "two"
[[constellation]]
name = "grid"
kind = "walker"
planes = 2
per_plane = 6
altitude_km = 800
inclination_deg = 53

[[constellation]]
name = "demo"
kind = "tle"
file = "d.tle"
[constellation.links]
pattern = "nearest"
k = 2
rate_gbps = 5

[links]
rate_gbps = 10
{extra}
"#
    )
}

fn parse_with_tle(text: &str) -> Result<Scenario, ScenarioError> {
    Scenario::parse(text, "x.toml", &mut |_| Ok(DEMO_TLE.to_owned()))
}

#[test]
fn several_constellations_share_one_numbering_and_keep_their_own_links() {
    let s = parse_with_tle(&two_shells("")).expect("valid");
    assert_eq!(s.world.satellites(), 15);
    assert_eq!(s.shells.len(), 2);
    assert_eq!(
        (s.shells[1].name.as_str(), s.shells[1].satellites.clone()),
        ("demo", 12..15)
    );
    // Walker satellites are sat-<i>; element sets keep their names and
    // answer to sat-<i> too.
    assert_eq!(s.world.name(SatId(11)), "sat-11");
    assert_eq!(s.world.name(SatId(12)), "DEMO-1");
    assert_eq!(s.world.find("sat-13"), Some(SatId(13)));
    assert_eq!(s.world.find("DEMO-2"), Some(SatId(13)));
    assert_eq!(s.shell_of(SatId(3)), "grid");
    assert_eq!(s.shell_of(SatId(14)), "demo");
    // The grid's +Grid links (two rings of 6, and 6 between the two
    // planes) and the element sets' pairs (3), each with its own rate;
    // none between them.
    let groups = s.world.groups();
    assert_eq!(groups.len(), 2);
    assert_eq!(s.world.candidates().len(), 18 + 3);
    assert!(
        s.world
            .candidates()
            .iter()
            .all(|&(a, b)| (a.0 < 12) == (b.0 < 12))
    );
    assert_eq!(groups[0].model.terminal_rate.gbps(), 10.0);
    assert_eq!(groups[1].model.terminal_rate.gbps(), 5.0);
}

#[test]
fn links_between_join_two_constellations() {
    let s = parse_with_tle(&two_shells(
        "[[links.between]]\na = \"grid\"\nb = \"demo\"\nk = 1\nmax_range_km = 3000\n",
    ))
    .expect("valid");
    let g = &s.world.groups()[2];
    assert_eq!((g.a.clone(), g.b.clone()), (0..12, Some(12..15)));
    assert_eq!(s.world.candidates().len(), 18 + 3 + 12 * 3);
    assert_eq!(g.model.terminals, 1);
    assert!((g.model.max_range.km() - 3000.0).abs() < 1e-9);
}

#[test]
fn several_constellations_are_checked() {
    let bad = |text: String, field: &str, reason: &str| match parse_with_tle(&text) {
        Ok(_) => panic!("accepted; expected {field}: {reason}"),
        Err(e) => {
            assert_eq!(e.field, field, "{e}");
            assert!(e.reason.contains(reason), "{e}");
        }
    };
    bad(
        two_shells("").replace("name = \"demo\"", "name = \"grid\""),
        "constellation[1].name",
        "names two constellations",
    );
    bad(
        two_shells("[[links.between]]\na = \"grid\"\nb = \"moon\"\n"),
        "links.between[0].b",
        "no constellation named \"moon\"",
    );
    bad(
        two_shells("").replace("rate_gbps = 5", "rate_gbps = 5\nmtu = 1500"),
        "constellation[1].links.mtu",
        "must equal",
    );
    bad(
        two_shells("").replace("planes = 2", "planes = 0"),
        "constellation[0].planes",
        "≥ 1",
    );
}
