"""One training epoch of the default hybrid classifier: wall time and peak memory.

Runs ``shno_neurons.adapters.training.train`` for one epoch with the default
``RunConfig`` (embedded MNIST sample, 4 classes, SHNO layer of 60 neurons on
snnTorch, 15 steps of 0.1 ns at dt_sub = 4 ps, batch 64; figures off), on the CPU,
once per substep backend, each in a fresh subprocess so that its peak resident memory
is its own. Reported: the epoch's wall time (training and the test pass, as
``train`` runs them; the one-time numba compilation is done by a warm-up epoch on a
few images first and not counted), the process's peak resident set size, and its
resident size just before the epoch (imports, data and model), whose difference is
what the epoch itself needed.

The eager backend records every substep for autograd and takes far longer; by default
it runs on a subset (``--eager-limit`` images per class) and its time is also given
per training image, next to the fused backend's on the same subset.

Usage::

    python benchmarks/bench_training_epoch.py
    python benchmarks/bench_training_epoch.py --eager-limit 0   # eager on all images
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from _common import machine, markdown_table, print_machine, write

_CHILD = r"""
import json, resource, sys, tempfile, time
import torch
from shno_neurons.adapters.training import RunConfig, TrainConfig, train
from shno_neurons.adapters.data import DataConfig, load_embedded
from shno_neurons.adapters.models import ModelConfig

backend, limit, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(threads)

def config(limit):
    return RunConfig(
        data=DataConfig(limit_per_class=limit),
        model=ModelConfig(backend=backend),
        train=TrainConfig(epochs=1, figures=False, device="cpu", threads=threads),
    )

with tempfile.TemporaryDirectory() as out:
    train(config(4), out + "/warm", progress=False)  # compiles the kernels
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    result = train(config(limit), out + "/run", progress=False)
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
split = load_embedded(config(limit).data)
print(json.dumps({"wall_s": wall, "rss_before_kib": before, "rss_peak_kib": peak,
                  "train_images": len(split.train.labels),
                  "test_images": len(split.test.labels),
                  "history": result.history}))
"""


def run(backend: str, limit: int, threads: int) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, backend, str(limit), str(threads)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode:
        raise RuntimeError(f"{backend} run failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--eager-limit",
        type=int,
        default=25,
        help="images per class for the eager-vs-fused comparison (0: all)",
    )
    args = parser.parse_args()
    info = machine()
    info["torch_threads"] = args.threads
    print_machine(info)
    runs = [("fused", 0)]
    if args.eager_limit:
        runs.append(("fused", args.eager_limit))
    runs.append(("eager", args.eager_limit))
    rows, table = [], []
    for backend, limit in runs:
        r = run(backend, limit, args.threads)
        r.update({"backend": backend, "limit_per_class": limit})
        rows.append(r)
        line = [
            backend,
            f"{r['train_images']} / {r['test_images']}",
            f"{r['wall_s']:.1f}",
            f"{r['wall_s'] / r['train_images'] * 1e3:.1f}",
            f"{r['rss_peak_kib'] / 1024:.0f}",
            f"{(r['rss_peak_kib'] - r['rss_before_kib']) / 1024:.0f}",
        ]
        table.append(line)
        print(" | ".join(str(c) for c in line), flush=True)
    md = markdown_table(
        [
            "backend",
            "train / test images",
            "epoch wall s",
            "ms per training image",
            "peak RSS MiB",
            "peak RSS growth during the epoch MiB",
        ],
        table,
    )
    config = {"run": "default RunConfig, 1 epoch, cpu", "threads": args.threads}
    write(f"training_epoch_{args.threads}thread", info, config, rows, md)


if __name__ == "__main__":
    main()
