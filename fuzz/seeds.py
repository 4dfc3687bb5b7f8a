#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/corpus/<target>/ from the repository's
own test inputs: topologies and the README's scenario, element sets, the
Chakra traces of netem's tests, frames and packets as the wire and the
router tests build them, and launcher lines as the protocol tests write
them. Run from the repository root: python3 fuzz/seeds.py"""

import json
import os
import re
import shutil
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")
TOKEN = 0x6F72626E66757A7A  # node_targets::TOKEN


def out(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def checksum(h):
    s = sum(struct.unpack("!%dH" % (len(h) // 2), h))
    while s > 0xFFFF:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def sat(i):
    return bytes([198, 18, 0, i + 1])


def ipv4(src, dst, proto, payload, ttl=64):
    total = 20 + len(payload)
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 1, 0, ttl, proto, 0, src, dst)
    h = h[:10] + struct.pack("!H", checksum(h)) + h[12:]
    return h + payload


def icmp_echo(size=56):
    body = struct.pack("!BBHHH", 8, 0, 0, 0x1234, 1) + bytes(range(size % 256)) * (size // 256) + bytes(size % 256)
    return body[:8 + size]


def tcp_syn():
    return struct.pack("!HHIIBBHHH", 50000, 10000, 1, 0, 0x50, 0x02, 65535, 0, 0)


def frame(packet, link=3, seq=1, token=TOKEN, version=1):
    return struct.pack("!IBBHQIQQQ", 0x4F52424E, version, 0, 0, token, link, seq, 1000, 5000) + packet


def main():
    shutil.rmtree(CORPUS, ignore_errors=True)
    echo = ipv4(sat(0), sat(3), 1, icmp_echo())
    # wire_frame: frames as wire.rs's tests make them.
    out("wire_frame", "echo", frame(echo))
    out("wire_frame", "header-only", frame(b""))
    out("wire_frame", "truncated", frame(echo)[:30])
    out("wire_frame", "wrong-token", frame(echo, token=1))
    out("wire_frame", "version-2", frame(echo, version=2))
    out("wire_frame", "seq-0", frame(echo, seq=0))
    # router_packet: control byte (satellite, from a link, copies) + packet.
    out("router_packet", "echo-from-stack", bytes([0]) + echo)
    out("router_packet", "echo-forwarded", bytes([8 | 1]) + echo)
    out("router_packet", "echo-local", bytes([8 | 3]) + echo)
    out("router_packet", "ttl-1", bytes([8 | 1]) + ipv4(sat(0), sat(3), 1, icmp_echo(), ttl=1))
    out("router_packet", "outside-the-block", bytes([0]) + ipv4(sat(0), bytes([10, 0, 0, 1]), 1, icmp_echo()))
    out("router_packet", "tcp-syn", bytes([2]) + ipv4(sat(2), sat(6), 6, tcp_syn()))
    out("router_packet", "jumbo-burst", bytes([0xF0]) + ipv4(sat(0), sat(4), 17, bytes(8000)))
    out("router_packet", "malformed", bytes([0, 0x45, 0, 0]))
    # scenario_toml: the shipped topologies and the README's full example.
    for f in sorted(os.listdir(os.path.join(ROOT, "topologies"))):
        if f.endswith(".toml"):
            out("scenario_toml", f, open(os.path.join(ROOT, "topologies", f), "rb").read())
    readme = open(os.path.join(ROOT, "README.md")).read()
    m = re.search(r"## Scenario files\n.*?```toml\n(.*?)```", readme, re.S)
    if m:
        out("scenario_toml", "readme-example.toml", m.group(1))
    out("scenario_toml", "trio.toml", open(os.path.join(ROOT, "src/deploy/testdata/trio.toml"), "rb").read())
    # element_sets: the TLE files of the tests, two-line and OMM forms.
    demo = open(os.path.join(ROOT, "topologies/demo-plane.tle")).read()
    out("element_sets", "demo-plane.tle", demo)
    out("element_sets", "trio.tle", open(os.path.join(ROOT, "src/deploy/testdata/elements/trio.tle")).read())
    lines = [l for l in demo.splitlines() if l.strip()]
    out("element_sets", "two-line.tle", "\n".join(l for l in lines if l[:2] in ("1 ", "2 ")) + "\n")
    omm = [{
        "OBJECT_NAME": "ISS (ZARYA)", "OBJECT_ID": "1998-067A", "EPOCH": "2020-07-12T21:16:01.000416",
        "MEAN_MOTION": 15.49507896, "ECCENTRICITY": 0.0001413, "INCLINATION": 51.6461,
        "RA_OF_ASC_NODE": 221.2784, "ARG_OF_PERICENTER": 89.1723, "MEAN_ANOMALY": 280.4612,
        "EPHEMERIS_TYPE": 0, "CLASSIFICATION_TYPE": "U", "NORAD_CAT_ID": 25544, "ELEMENT_SET_NO": 999,
        "REV_AT_EPOCH": 23587, "BSTAR": 0.0049646, "MEAN_MOTION_DOT": 0.00289036, "MEAN_MOTION_DDOT": 0,
    }]
    out("element_sets", "omm.json", json.dumps(omm))
    # ground_stations: Hypatia's extended file of the demo, its basic form,
    # a CSV with a header, and a file with a short line.
    hyp = open(os.path.join(ROOT, "topologies/hypatia-demo/ground_stations.txt")).read()
    out("ground_stations", "hypatia-extended.txt", hyp)
    out("ground_stations", "hypatia-basic.txt",
        "".join(",".join(l.split(",")[:5]) + "\n" for l in hyp.splitlines() if l.strip()))
    out("ground_stations", "cities.csv",
        "name,lat_deg,lon_deg,alt_m\nlondon,51.5074,-0.1278,11\nnew-york,40.7128,-74.0060,10\n")
    out("ground_stations", "short-line.csv", "name,lat_deg,lon_deg,alt_m\nparis,48.8566\n")
    # chakra_trace: netem's test traces.
    data = os.path.join(ROOT, "netem/tests/data/chakra")
    for f in sorted(os.listdir(data)):
        if f.endswith(".et"):
            out("chakra_trace", f, open(os.path.join(data, f), "rb").read())
    # protocol_lines: the launcher's messages and the satellites' events.
    msgs = [
        {"msg": "peers", "peers": ["127.0.0.1:4000", "127.0.0.1:4001"], "tls_cert": None, "tls_key": "ab"},
        {"msg": "start", "start_unix_ns": 1767225600000000000},
        {"msg": "stop"},
    ]
    out("protocol_lines", "to-node", "\n".join(json.dumps(m) for m in msgs) + "\n")
    events = [
        {"event": "bound", "sat": "sat-0", "port": 40000},
        {"event": "ready", "sat": "sat-0"},
        {"event": "link", "sat": "sat-0", "t_s": 0.0, "peer": "sat-1", "link": 0, "state": "up"},
        {"event": "stats", "sat": "sat-0", "t_s": 0.2, "frames_in": 10, "frames_out": 12, "links_up": 2},
        {"event": "echo", "from": "sat-0", "to": "sat-4", "seq": 3, "sent_s": 0.6, "size": 56, "rtt_ms": 75.3},
        {"event": "echo", "from": "sat-0", "to": "sat-4", "seq": 4, "sent_s": 0.7, "size": 56, "rtt_ms": None},
        {"event": "bulk-progress", "workload": 1, "t_s": 0.5, "bytes": 1048576},
        {"event": "transfer", "workload": 1, "from": "sat-2", "to": "sat-6", "transport": "tcp", "cc": "cubic",
         "bytes": 2000000, "streams": 1, "start_s": 0.0, "completed_s": 0.4, "received": 2000000,
         "verified": True, "error": None},
        {"event": "collective", "workload": 2, "rank": 0, "sat": "sat-0", "bytes": 1048576, "start_s": 0.1,
         "time_s": 0.3, "verified": True, "error": None},
        {"event": "train-step", "workload": 3, "rank": 1, "sat": "sat-1", "step": 0, "start_s": 0.0,
         "step_s": 2.0, "compute_s": 1.6, "comm_s": 1.2, "verified": True, "error": None},
        {"event": "done", "sat": "sat-1", "t_s": 1.0, "frames_in": 7, "bytes_in": 700, "frames_out": 7,
         "send_errors": 0, "rejected": {"wrong-token": 1}, "offered": 3, "in_flight": 1, "kernel_drops": 0,
         "sent": 3, "forwarded": 4, "delivered_local": 2, "drops": {"queue-full": 1},
         "late_max_us": 2.5, "late_max_at_s": 0.5},
        {"event": "failed", "sat": "sat-2", "error": "boom"},
        {"event": "crash", "sat": "sat-3", "t_s": 1.0},
        {"event": "restart", "sat": "sat-3", "t_s": 3.0},
    ]
    out("protocol_lines", "events", "\n".join(json.dumps(e) for e in events) + "\n")


if __name__ == "__main__":
    main()
