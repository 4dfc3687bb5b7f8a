//! Placement's tests: Walker shells against a brute force over every
//! balanced split into whole planes; partitions against contiguous index
//! blocks on the shipped formation and TLE set and on generated ones.

use super::*;
use crate::Scenario;
use crate::units::SatId;

fn parse(text: &str) -> Scenario {
    Scenario::parse(text, "x.toml", &mut |p: &str| Err(format!("no file {p}")))
        .expect("valid scenario")
}

/// A shipped topology, reading the files it refers to beside it.
fn topology(file: &str) -> Scenario {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../topologies");
    let text = std::fs::read_to_string(dir.join(file)).expect("topology");
    Scenario::parse(&text, file, &mut |p: &str| {
        std::fs::read_to_string(dir.join(p)).map_err(|e| e.to_string())
    })
    .expect("valid topology")
}

fn walker(planes: u32, per_plane: u32, spread_deg: f64) -> Scenario {
    parse(&format!(
        "name = \"w\"\n[constellation]\nkind = \"walker\"\nplanes = {planes}\n\
         per_plane = {per_plane}\naltitude_km = 1000\ninclination_deg = 53\n\
         raan_spread_deg = {spread_deg}\n[links]\npattern = \"plus-grid\"\nrate_gbps = 10\n"
    ))
}

fn formation(count: u32, k: u32) -> Scenario {
    parse(&format!(
        "name = \"f\"\n[constellation]\nkind = \"formation\"\ncount = {count}\n\
         altitude_km = 650\nspacing_m = 100\nradius_m = 1000\n\
         [links]\npattern = \"nearest\"\nk = {k}\nterminals = {k}\nrate_gbps = 100\n"
    ))
}

fn place(s: &Scenario, hosts: u32) -> Placement {
    Placement::new(&s.world, &s.constellation, hosts).expect("placement")
}

/// How many of `links` join satellites on different hosts of `part`.
fn cut_count(links: &[(SatId, SatId)], part: &[u32]) -> usize {
    links
        .iter()
        .filter(|(a, b)| part[a.index()] != part[b.index()])
        .count()
}

fn part_of(p: &Placement, satellites: u32) -> Vec<u32> {
    (0..satellites)
        .map(|i| p.host_of(SatId(i)).expect("placed").0)
        .collect()
}

/// The links a placement counts under a `nearest` pattern: those up at t = 0.
fn up_at_zero(s: &Scenario) -> Vec<(SatId, SatId)> {
    s.world
        .snapshot(SimTime::ZERO)
        .links
        .iter()
        .filter(|l| l.is_up())
        .map(|l| (l.a, l.b))
        .collect()
}

/// The fewest candidate links any balanced split of whole planes cuts,
/// by trying every assignment of planes to hosts.
fn brute_force_whole_planes(s: &Scenario, planes: u32, per_plane: u32, hosts: u32) -> usize {
    let mut wanted: Vec<u32> = (0..hosts).map(|h| balanced(planes, hosts, h)).collect();
    wanted.sort_unstable();
    let mut best = usize::MAX;
    for code in 0..u64::from(hosts).pow(planes) {
        let of_plane: Vec<u32> = (0..planes)
            .map(|p| ((code / u64::from(hosts).pow(p)) % u64::from(hosts)) as u32)
            .collect();
        let mut sizes = vec![0u32; hosts as usize];
        for &h in &of_plane {
            sizes[h as usize] += 1;
        }
        sizes.sort_unstable();
        if sizes != wanted {
            continue;
        }
        let part: Vec<u32> = (0..planes * per_plane)
            .map(|i| of_plane[(i / per_plane) as usize])
            .collect();
        best = best.min(cut_count(s.world.candidates(), &part));
    }
    best
}

fn check_whole_planes(planes: u32, per_plane: u32, hosts: u32) {
    let s = walker(planes, per_plane, 360.0);
    let p = place(&s, hosts);
    assert!(matches!(p.method(), Method::WholePlanes { .. }));
    let part = part_of(&p, planes * per_plane);
    for (h, share) in p.shares().iter().enumerate() {
        // Whole planes, balanced.
        let n = share.planes.len() as u32;
        assert!(
            n == planes / hosts || n == planes.div_ceil(hosts),
            "{share:?}"
        );
        let mut from_planes: Vec<SatId> = share
            .planes
            .iter()
            .flat_map(|&pl| (pl * per_plane..(pl + 1) * per_plane).map(SatId))
            .collect();
        from_planes.sort_unstable();
        assert_eq!(from_planes, share.satellites, "host {h}");
    }
    let cut = cut_count(s.world.candidates(), &part);
    assert_eq!(cut, p.cut().len());
    let best = brute_force_whole_planes(&s, planes, per_plane, hosts);
    assert_eq!(cut, best, "{planes}×{per_plane} on {hosts}");
    // The bound of the module doc: S·H, or S for two planes.
    let bound = if hosts == 1 {
        0
    } else if planes == 2 {
        per_plane
    } else {
        per_plane * hosts
    };
    assert_eq!(cut, bound as usize);
}

#[test]
fn walker_shells_split_by_whole_planes_with_the_fewest_cut_links() {
    check_whole_planes(6, 4, 2);
    check_whole_planes(6, 4, 3);
    check_whole_planes(6, 4, 1);
    check_whole_planes(5, 3, 2);
    check_whole_planes(7, 2, 3);
    check_whole_planes(2, 5, 2);
}

#[test]
fn a_walker_star_is_cut_at_its_seam() {
    // Planes spread over 180°: the first and last planes meet
    // counter-rotating across the seam, out of sight of each other at
    // t = 0, so the seam is the boundary that cuts no link that is up.
    let s = walker(6, 4, 180.0);
    let seam_down = s
        .world
        .snapshot(SimTime::ZERO)
        .links
        .iter()
        .filter(|l| l.a.0 < 4 && l.b.0 >= 20)
        .all(|l| !l.is_up());
    assert!(seam_down, "the seam links are down at t = 0");
    let p = place(&s, 2);
    assert_ne!(p.host_of(SatId(0)), p.host_of(SatId(20)));
    assert_eq!(p.cut().len(), 8);
}

#[test]
fn a_shell_with_fewer_planes_than_hosts_falls_into_arcs() {
    let s = walker(1, 12, 360.0);
    let p = place(&s, 3);
    assert_eq!(p.method(), Method::Partition);
    // A ring cut into three arcs: three links cut, the fewest possible.
    assert_eq!(p.cut().len(), 3);
    for share in p.shares() {
        assert_eq!(share.satellites.len(), 4);
        assert_eq!(share.links_cut, 2);
    }
}

/// The partition on `hosts` hosts cuts no more links than contiguous index
/// blocks, and shares are balanced.
fn no_worse_than_index_blocks(s: &Scenario, hosts: u32) -> (usize, usize) {
    let n = s.world.satellites();
    let p = place(s, hosts);
    assert_eq!(p.method(), Method::Partition);
    let links = up_at_zero(s);
    let part = part_of(&p, n);
    let blocks: Vec<u32> = (0..hosts)
        .flat_map(|h| std::iter::repeat_n(h, balanced(n, hosts, h) as usize))
        .collect();
    let (ours, theirs) = (cut_count(&links, &part), cut_count(&links, &blocks));
    assert_eq!(ours, p.cut().len());
    assert!(ours <= theirs, "{hosts} hosts: {ours} cut against {theirs}");
    let mut sizes: Vec<usize> = p.shares().iter().map(|s| s.satellites.len()).collect();
    sizes.sort_unstable();
    assert!(sizes[sizes.len() - 1] - sizes[0] <= 1, "{sizes:?}");
    assert_eq!(sizes.iter().sum::<usize>(), n as usize);
    (ours, theirs)
}

#[test]
fn the_suncatcher_formation_partition_cuts_no_more_than_index_blocks() {
    let s = topology("suncatcher-81.toml");
    let mut better = false;
    for hosts in [2, 3, 4, 5, 8] {
        let (ours, theirs) = no_worse_than_index_blocks(&s, hosts);
        better |= ours < theirs;
    }
    // The lattice is numbered row by row, so blocks already do well; the
    // partition must still find a better cut somewhere.
    assert!(better);
}

#[test]
fn the_tle_ring_falls_into_arcs() {
    let s = topology("tle-demo.toml");
    for hosts in [2, 3, 5] {
        let (ours, _) = no_worse_than_index_blocks(&s, hosts);
        // Each satellite links to its two nearest: a ring, which no split
        // into `hosts` parts cuts fewer than `hosts` times.
        assert_eq!(ours, hosts as usize);
    }
}

#[test]
fn generated_formations_partition_no_worse_than_index_blocks() {
    for (count, k) in [(30, 3), (50, 4), (64, 6)] {
        let s = formation(count, k);
        for hosts in [2, 3, 4, 7] {
            no_worse_than_index_blocks(&s, hosts);
        }
    }
}

#[test]
fn a_small_partition_matches_the_brute_force_optimum() {
    let s = formation(12, 3);
    let links = up_at_zero(&s);
    let mut best = usize::MAX;
    for mask in 0u32..(1 << 12) {
        if mask.count_ones() == 6 {
            let part: Vec<u32> = (0..12).map(|i| (mask >> i) & 1).collect();
            best = best.min(cut_count(&links, &part));
        }
    }
    assert_eq!(place(&s, 2).cut().len(), best);
}

#[test]
fn shares_report_their_cut_links_and_shortest_delay() {
    let s = walker(6, 4, 360.0);
    let p = place(&s, 3);
    let snap = s.world.snapshot(SimTime::ZERO);
    let mut total = 0;
    for (h, share) in p.shares().iter().enumerate() {
        let mine = |sat: SatId| p.host_of(sat) == Some(HostId(h as u32));
        let cut: Vec<_> = snap
            .links
            .iter()
            .filter(|l| mine(l.a) != mine(l.b))
            .collect();
        assert_eq!(share.links_cut, cut.len());
        let shortest = cut.iter().filter(|l| l.is_up()).map(|l| l.delay).min();
        assert_eq!(share.shortest_cut_delay, shortest);
        total += share.links_cut;
    }
    // Each cut link has two ends, on two hosts.
    assert_eq!(total, 2 * p.cut().len());
    assert!(p.shortest_cut_delay().is_some());
    assert_eq!(p.shares()[0].runs(), [(SatId(0), SatId(7))]);
}

#[test]
fn runs_join_consecutive_indices() {
    let share = Share {
        satellites: [0, 1, 2, 5, 7, 8].map(SatId).to_vec(),
        planes: Vec::new(),
        links_cut: 0,
        shortest_cut_delay: None,
    };
    let runs = [(0, 2), (5, 5), (7, 8)].map(|(a, b)| (SatId(a), SatId(b)));
    assert_eq!(share.runs(), runs);
}

#[test]
fn placement_is_deterministic_and_digested() {
    let s = topology("suncatcher-81.toml");
    let (a, b) = (place(&s, 3), place(&s, 3));
    assert_eq!(a, b);
    assert_eq!(a.digest(), b.digest());
    assert_ne!(a.digest(), place(&s, 4).digest());
}

#[test]
fn too_few_or_too_many_hosts_are_refused() {
    let s = walker(2, 3, 360.0);
    let e = |hosts| Placement::new(&s.world, &s.constellation, hosts).expect_err("refused");
    assert_eq!(e(0), PlacementError::NoHosts);
    assert_eq!(
        e(7),
        PlacementError::TooManyHosts {
            hosts: 7,
            satellites: 6
        }
    );
    assert_eq!(place(&s, 6).cut().len(), s.world.candidates().len());
}

#[test]
fn a_ground_station_goes_with_the_satellites_it_sees_most() {
    let s = walker(6, 4, 360.0);
    let p = place(&s, 2);
    let h0 = p.host_of(SatId(0)).expect("placed");
    let h1 = p.host_of(SatId(23)).expect("placed");
    assert_ne!(h0, h1);
    assert_eq!(p.host_seeing_most([(SatId(0), 5), (SatId(23), 9)]), h1);
    assert_eq!(
        p.host_seeing_most([(SatId(0), 5), (SatId(1), 5), (SatId(23), 9)]),
        h0
    );
    assert_eq!(p.host_seeing_most([]), HostId(0));
    assert_eq!(p.host_seeing_most([(SatId(99), 1)]), HostId(0));
}

#[test]
fn stations_are_placed_after_the_satellites_with_the_host_that_sees_them_most() {
    let s = parse(
        "name = \"g\"\n[constellation]\nkind = \"walker\"\nplanes = 6\nper_plane = 8\n\
         altitude_km = 550\ninclination_deg = 53\n[links]\npattern = \"plus-grid\"\n\
         rate_gbps = 10\n[ground]\nmin_elevation_deg = 10\n\
         [[ground_station]]\nname = \"paris\"\nlat_deg = 48.8566\nlon_deg = 2.3522\n\
         [[ground_station]]\nname = \"quito\"\nlat_deg = -0.18\nlon_deg = -78.47\n",
    );
    let w = &s.world;
    assert_eq!(w.nodes(), 50);
    let p = place(&s, 3);
    // Every node once, each share's satellites before its stations.
    let mut all: Vec<SatId> = p
        .shares()
        .iter()
        .flat_map(|h| h.satellites.clone())
        .collect();
    all.sort_unstable();
    assert_eq!(all, (0..50).map(SatId).collect::<Vec<_>>());
    for share in p.shares() {
        let stations = share.satellites.iter().filter(|&&n| n.0 >= 48).count();
        assert!(
            share.satellites[..share.satellites.len() - stations]
                .iter()
                .all(|n| n.0 < 48)
        );
    }
    // Placed where time_in_view says, which counts what the mask admits.
    let seen = time_in_view(w, w.ground().expect("ground"));
    for (g, seen) in seen.into_iter().enumerate() {
        assert!(
            !seen.is_empty(),
            "station {g} sees a satellite in 100 minutes"
        );
        let want = p.host_seeing_most(seen);
        assert_eq!(p.host_of(SatId(48 + g as u32)), Some(want));
    }
    // Satellites are placed as without stations.
    let no_ground = walker_like_g();
    let q = place(&no_ground, 3);
    for i in 0..48 {
        assert_eq!(p.host_of(SatId(i)), q.host_of(SatId(i)));
    }
}

fn walker_like_g() -> Scenario {
    parse(
        "name = \"g\"\n[constellation]\nkind = \"walker\"\nplanes = 6\nper_plane = 8\n\
         altitude_km = 550\ninclination_deg = 53\n[links]\npattern = \"plus-grid\"\n\
         rate_gbps = 10\n",
    )
}
