#!/usr/bin/env python3
"""Writes topologies/hypatia-demo/: a small Walker shell as a Hypatia
satellite-network-state directory (tles.txt, isls.txt, ground_stations.txt),
in the formats Hypatia's satgen writes (Kassing et al., IMC 2020):

- tles.txt: a first line "<orbits> <satellites per orbit>", then per
  satellite a name line "<constellation> <index>" and the two TLE lines,
  epoch 2000-01-01 00:00 (day 001 of year 00), mean anomaly spaced evenly
  in the plane, right ascension spaced evenly over the planes;
- isls.txt: "+Grid" pairs of satellite indices, one pair a line;
- ground_stations.txt: the extended form "id,name,lat,lon,elevation,x,y,z"
  (elevation in metres, x/y/z the WGS-84 Earth-fixed position in metres).

orbnet loads the directory unchanged (topologies/hypatia-demo.toml).
Run: python3 scripts/hypatia-demo.py
"""
import math
import pathlib

ORBITS, PER_ORBIT = 18, 18
ALTITUDE_KM, INCLINATION_DEG = 550.0, 53.0
MU_KM3_S2 = 398600.4418  # Earth's GM, km^3/s^2 (WGS-84)
R_EARTH_KM = 6378.135  # WGS-72 equatorial radius, as SGP4 uses

CITIES = [  # name, latitude, longitude, elevation (m)
    ("Tokyo", 35.6895, 139.6917, 40.0),
    ("Delhi", 28.7041, 77.1025, 216.0),
    ("Shanghai", 31.2304, 121.4737, 4.0),
    ("Sao-Paulo", -23.5505, -46.6333, 760.0),
]


def checksum(line68):
    """TLE checksum: the digits' sum plus one per minus sign, modulo 10."""
    total = sum(int(c) for c in line68 if c.isdigit()) + line68.count("-")
    return total % 10


def tle(index, raan_deg, anomaly_deg, revs_per_day):
    num = index + 1
    l1 = f"1 {num:05d}U 00000ABC 00001.00000000  .00000000  00000-0  00000+0 0    0"
    l2 = (
        f"2 {num:05d} {INCLINATION_DEG:8.4f} {raan_deg:8.4f} 0000001 "
        f"{0.0:8.4f} {anomaly_deg:8.4f} {revs_per_day:11.8f}    0"
    )
    assert len(l1) == 68 and len(l2) == 68, (l1, l2)
    return l1 + str(checksum(l1)), l2 + str(checksum(l2))


def ecef(lat_deg, lon_deg, alt_m):
    a, f = 6378137.0, 1 / 298.257223563
    e2 = f * (2 - f)
    lat, lon = math.radians(lat_deg), math.radians(lon_deg)
    n = a / math.sqrt(1 - e2 * math.sin(lat) ** 2)
    return (
        (n + alt_m) * math.cos(lat) * math.cos(lon),
        (n + alt_m) * math.cos(lat) * math.sin(lon),
        (n * (1 - e2) + alt_m) * math.sin(lat),
    )


def main():
    out = pathlib.Path(__file__).resolve().parent.parent / "topologies" / "hypatia-demo"
    out.mkdir(parents=True, exist_ok=True)
    a = R_EARTH_KM + ALTITUDE_KM
    revs_per_day = 86400.0 / (2 * math.pi * math.sqrt(a**3 / MU_KM3_S2))
    lines = [f"{ORBITS} {PER_ORBIT}"]
    for o in range(ORBITS):
        for s in range(PER_ORBIT):
            i = o * PER_ORBIT + s
            l1, l2 = tle(i, o * 360.0 / ORBITS, s * 360.0 / PER_ORBIT, revs_per_day)
            lines += [f"Demo-550 {i}", l1, l2]
    (out / "tles.txt").write_text("\n".join(lines) + "\n")
    pairs = []
    for o in range(ORBITS):
        for s in range(PER_ORBIT):
            i = o * PER_ORBIT + s
            pairs.append((i, o * PER_ORBIT + (s + 1) % PER_ORBIT))
            pairs.append((i, ((o + 1) % ORBITS) * PER_ORBIT + s))
    (out / "isls.txt").write_text("".join(f"{a} {b}\n" for a, b in pairs))
    rows = []
    for gid, (name, lat, lon, alt) in enumerate(CITIES):
        x, y, z = ecef(lat, lon, alt)
        rows.append(f"{gid},{name},{lat:.6f},{lon:.6f},{alt:.6f},{x:.6f},{y:.6f},{z:.6f}")
    (out / "ground_stations.txt").write_text("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
