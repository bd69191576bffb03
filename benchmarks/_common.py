"""Shared helpers of the benchmark scripts: machine description, timing, reports.

Every script prints the machine and thread count first, warms up before timing,
reports the median of repeats with the spread (min and max), and writes its results
as JSON and as a markdown table into ``benchmarks/results/``.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    """CPU model, core count, clock, thread settings and library versions."""
    cpu = platform.processor() or platform.machine()
    mhz = None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and cpu in ("", "x86_64"):
                    cpu = line.split(":", 1)[1].strip()
                if line.startswith("cpu MHz") and mhz is None:
                    mhz = float(line.split(":", 1)[1])
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    info = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "cpu_mhz_reported": mhz,
        "load_average_1min": load,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }
    for name in ("numba", "snntorch", "norse", "cmtj"):
        try:
            module = __import__(name)
            info[name] = getattr(module, "__version__", "?")
        except ImportError:
            info[name] = None
    return info


def print_machine(info: dict[str, Any]) -> None:
    print(
        f"machine: {info['cpu']}, {info['cores']} cores "
        f"({info['cpu_mhz_reported']} MHz reported), load {info['load_average_1min']}"
    )
    print(
        f"torch {info['torch']} with {info['torch_threads']} threads, "
        f"numba {info['numba']}, python {info['python']}"
    )


def timeit(
    fn: Callable[[], Any], repeats: int = 5, warmup: int = 1
) -> dict[str, float]:
    """Median, min and max wall time (s) of ``fn()`` after ``warmup`` calls.

    CUDA work is synchronised before each clock read.
    """
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return {
        "median": statistics.median(times),
        "min": min(times),
        "max": max(times),
        "repeats": repeats,
    }


def write(
    name: str,
    info: dict[str, Any],
    config: dict[str, Any],
    rows: list[dict],
    table: str,
) -> None:
    """Write ``results/<name>.json`` and ``results/<name>.md``."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"machine": info, "config": config, "results": rows}
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2) + "\n")
    header = (
        f"# {name}\n\nMachine: {info['cpu']}, {info['cores']} cores, "
        f"load {info['load_average_1min']:.2f} at start; torch {info['torch']}, "
        f"numba {info['numba']}.\n\nConfiguration: `{json.dumps(config)}`\n\n"
    )
    (RESULTS / f"{name}.md").write_text(header + table + "\n")
    print(f"wrote {RESULTS / name}.json and .md")


def markdown_table(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
