#!/usr/bin/env python3
"""Run a command and measure what it costs the machine, for the benchmarks.

    scripts/measure.py OUT.json -- CMD ARGS...

Writes to OUT.json (and prints) the command's exit code and:
- mem_in_use_gb: the peak drop of MemAvailable (/proc/meminfo) from just
  before the command to its peak, sampled every 0.25 s: memory the run
  took from the machine, page cache and all;
- node_private_mb: per `orbnet node` process, Private_Dirty from
  /proc/PID/smaps_rollup at the sample with the most such processes
  (median and maximum over them);
- nodes_peak: the most `orbnet node` processes alive at once;
- cpu_s: user + system CPU time of the command and all its children;
- wall_s.
"""

import json
import os
import resource
import statistics
import subprocess
import sys
import time


def mem_available_kb():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1])
    raise RuntimeError("no MemAvailable in /proc/meminfo")


def node_pids():
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if len(argv) > 1 and argv[0].endswith(b"orbnet") and argv[1] == b"node":
            pids.append(int(d))
    return pids


def private_dirty_kb(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Private_Dirty:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def main():
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.exit(__doc__)
    out, cmd = sys.argv[1], sys.argv[3:]
    before = mem_available_kb()
    start = time.monotonic()
    proc = subprocess.Popen(cmd)
    peak_drop = 0
    nodes_peak = 0
    private = []
    last_scan = 0.0
    while proc.poll() is None:
        peak_drop = max(peak_drop, before - mem_available_kb())
        now = time.monotonic()
        # Scanning thousands of processes costs CPU: once a second.
        if now - last_scan >= 1.0:
            last_scan = now
            pids = node_pids()
            if len(pids) >= nodes_peak and pids:
                nodes_peak = len(pids)
                sizes = [s for s in map(private_dirty_kb, pids) if s is not None]
                if sizes:
                    private = sizes
        time.sleep(0.25)
    wall = time.monotonic() - start
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = {
        "exit": proc.returncode,
        "wall_s": round(wall, 1),
        "cpu_s": round(ru.ru_utime + ru.ru_stime, 1),
        "mem_in_use_gb": round(peak_drop / 1024 / 1024, 2),
        "nodes_peak": nodes_peak,
        "node_private_mb": {
            "median": round(statistics.median(private) / 1024, 2) if private else None,
            "max": round(max(private) / 1024, 2) if private else None,
        },
    }
    with open(out, "w") as f:
        json.dump(result, f)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
