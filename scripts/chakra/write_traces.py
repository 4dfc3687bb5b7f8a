#!/usr/bin/env python3
"""Writes orbnet's golden Chakra traces with Python's protobuf, so that the
Rust reader (netem/src/chakra) is tested against bytes another
implementation wrote.

It compiles netem/proto/et_def.proto with grpc_tools.protoc into a temporary
directory (the generated et_def_pb2.py is never committed) and writes, for
4 ranks, files named <prefix>.<rank>.et as ASTRA-sim reads them:

  allreduce.<r>.et  compute (100 us) -> all-reduce of 1 MiB over group 1
                    -> compute (50 us), on every rank; allreduce.json holds
                    the communicator group {"1": [0, 1, 2, 3]}
  sendrecv.<r>.et   rank 0: compute -> send 64 KiB to rank 1 (tag 7);
                    rank 1: receive from rank 0 -> compute;
                    ranks 2 and 3: compute only

Each file is a GlobalMetadata then Nodes, each record prefixed with the
varint of its length (Chakra's protolib.encodeMessage). Node ids run on
across ranks, as Chakra's converters number them. Attributes use the types
real writers use, several on purpose: comm_type and comm_size int64 (Chakra),
num_ops and comm_dst uint64/uint32 (symbolic_tensor_graph), comm_src and
comm_tag int32 (MSCCL traces).

Usage (needs the versions in requirements.txt):
  python3 scripts/chakra/write_traces.py            # rewrite netem/tests/data/chakra
  python3 scripts/chakra/write_traces.py --out DIR  # write elsewhere
  python3 scripts/chakra/write_traces.py --check    # compare with the checked-in files
"""

import argparse
import filecmp
import importlib
import json
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
PROTO_DIR = ROOT / "netem" / "proto"
GOLDEN = ROOT / "netem" / "tests" / "data" / "chakra"
RANKS = 4


def compile_schema(into):
    """Generates et_def_pb2.py in `into` and imports it."""
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTO_DIR}",
         f"--python_out={into}", "et_def.proto"],
        check=True,
    )
    sys.path.insert(0, str(into))
    return importlib.import_module("et_def_pb2")


def varint(n):
    """Protobuf's base-128 varint, as protolib._EncodeVarint32 writes it."""
    out = bytearray()
    while True:
        bits = n & 0x7F
        n >>= 7
        if n:
            out.append(0x80 | bits)
        else:
            out.append(bits)
            return bytes(out)


def write_trace(pb, path, nodes):
    """One rank's file: GlobalMetadata, then the nodes."""
    records = [pb.GlobalMetadata(version="0.0.4")] + nodes
    with open(path, "wb") as f:
        for message in records:
            data = message.SerializeToString()
            f.write(varint(len(data)))
            f.write(data)


class Ids:
    """Node ids running on across ranks."""

    def __init__(self):
        self.next = 0

    def take(self):
        self.next += 1
        return self.next - 1


def attr(pb, name, **value):
    return pb.AttributeProto(name=name, **value)


def compute(pb, ids, name, micros, deps=()):
    n = pb.Node(id=ids.take(), name=name, type=pb.COMP_NODE, duration_micros=micros)
    n.data_deps.extend(deps)
    n.attr.append(attr(pb, "is_cpu_op", bool_val=False))
    n.attr.append(attr(pb, "num_ops", uint64_val=micros * 10**9))
    return n


def all_reduce_traces(pb, out):
    ids = Ids()
    for rank in range(RANKS):
        before = compute(pb, ids, "compute.before", 100)
        ar = pb.Node(id=ids.take(), name="all_reduce.1MiB", type=pb.COMM_COLL_NODE)
        ar.data_deps.append(before.id)
        ar.attr.extend([
            attr(pb, "is_cpu_op", bool_val=False),
            attr(pb, "comm_type", int64_val=pb.ALL_REDUCE),
            attr(pb, "comm_size", int64_val=1 << 20),
            attr(pb, "pg_name", string_val="1"),
        ])
        after = compute(pb, ids, "compute.after", 50, deps=[ar.id])
        after.ctrl_deps.append(before.id)
        write_trace(pb, out / f"allreduce.{rank}.et", [before, ar, after])
    with open(out / "allreduce.json", "w") as f:
        json.dump({"1": list(range(RANKS))}, f)
        f.write("\n")


def p2p(pb, ids, kind, name, peer, deps=()):
    """A send or receive of 64 KiB, tag 7, with `peer` its comm_dst or comm_src."""
    n = pb.Node(id=ids.take(), name=name, type=kind)
    n.data_deps.extend(deps)
    n.attr.extend([
        attr(pb, "is_cpu_op", bool_val=False),
        peer,
        attr(pb, "comm_size", int64_val=64 << 10),
        attr(pb, "comm_tag", int32_val=7),
    ])
    return n


def send_recv_traces(pb, out):
    ids = Ids()
    for rank in range(RANKS):
        if rank == 0:
            c = compute(pb, ids, "compute", 20)
            dst = attr(pb, "comm_dst", uint32_val=1)
            nodes = [c, p2p(pb, ids, pb.COMM_SEND_NODE, "send.to1", dst, [c.id])]
        elif rank == 1:
            src = attr(pb, "comm_src", int32_val=0)
            r = p2p(pb, ids, pb.COMM_RECV_NODE, "recv.from0", src)
            nodes = [r, compute(pb, ids, "compute", 20, deps=[r.id])]
        else:
            nodes = [compute(pb, ids, "compute", 20)]
        write_trace(pb, out / f"sendrecv.{rank}.et", nodes)


def write_all(pb, out):
    out.mkdir(parents=True, exist_ok=True)
    all_reduce_traces(pb, out)
    send_recv_traces(pb, out)
    return sorted(p.name for p in out.iterdir())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=pathlib.Path, default=GOLDEN)
    parser.add_argument("--check", action="store_true",
                        help="write to a temporary directory and compare with --out")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as gen:
        pb = compile_schema(gen)
        if not args.check:
            for name in write_all(pb, args.out):
                print(args.out / name)
            return 0
        with tempfile.TemporaryDirectory() as fresh:
            names = write_all(pb, pathlib.Path(fresh))
            differ = [n for n in names
                      if not (args.out / n).exists()
                      or not filecmp.cmp(pathlib.Path(fresh) / n, args.out / n, shallow=False)]
    for n in differ:
        print(f"differs from a fresh one: {args.out / n}", file=sys.stderr)
    print(f"{len(names) - len(differ)} of {len(names)} files as freshly generated")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
