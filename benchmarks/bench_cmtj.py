"""One macrospin for 100 ns: this package against the C++ solver ``cmtj``.

Same physics and step on both sides: Set A with an easy axis and a field-like torque,
driven at 1.5 j_c (the ``set_a`` case of ``tests/test_cmtj.py``, whose conventions are
bridged the same way here: cmtj's gyromagnetic ratio and vacuum permeability, its log
one step late), RK4 at dt = 1 ps, 100,000 steps, float64. Timed:

* ``cmtj``: ``Junction.runSimulation`` (logging every 0.1 ns);
* ``fused``: ``shno_neurons.fused.substeps`` on one neuron, all 100,000 substeps in one
  kernel call (the crossing detection runs too);
* ``eager``: ``shno_neurons.llgs.simulate`` (one PyTorch step per substep, recording
  every 0.1 ns).

Also printed: the largest difference of m between cmtj and the fused path at the 0.1 ns
log points (both integrate the same equation; they drift apart as the RK4 truncation
errors of the two implementations accumulate over 100 ns of precession).

``cmtj`` is GPL-2.0: used by this script and the tests, never imported by the library.

Usage::

    python benchmarks/bench_cmtj.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from _common import machine, markdown_table, print_machine, timeit, write

# The cmtj driver is shared with tests/test_cmtj.py.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from cmtj_reference import cmtj_trajectory  # noqa: E402

from shno_neurons import fused, llgs, presets
from shno_neurons.constants import CMTJ_GAMMA0, MU0

T_END = 100e-9
DT = 1e-12
LOG_EVERY = 1e-10


def device():
    p = presets.NIFE_PT.replace(gamma0=CMTJ_GAMMA0, h_k=0.01 / MU0, beta_fl=0.1)
    j = 1.5 * presets.NIFE_PT.threshold_current_density()
    m0 = np.array([0.95, 0.25, 0.18])
    return p, j, m0 / np.linalg.norm(m0)


def run_cmtj(p, j, m0, t_end=T_END):
    """cmtj on device ``p`` at current density ``j``: log times and m."""
    return cmtj_trajectory(p, j, m0, t_end, DT, LOG_EVERY)


def run_fused(p, j, m0, n_sub):
    dtype = torch.float64
    c = llgs.coefficients(p, dtype)
    m = torch.tensor(m0, dtype=dtype).reshape(1, 3)
    axis = torch.tensor(p.readout_axis, dtype=dtype)
    thr = torch.tensor(0.5, dtype=dtype)
    jj = torch.tensor([j], dtype=dtype)
    armed = torch.ones(1, dtype=dtype)
    args = (axis, False, thr, thr, False, None)
    return fused.substeps(m, armed, jj, c, n_sub, DT, "rk4", *args)[0][0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    info = machine()
    print_machine(info)
    p, j, m0 = device()
    n = int(round(T_END / DT))
    every = int(round(LOG_EVERY / DT))

    timings = {
        "cmtj": timeit(lambda: run_cmtj(p, j, m0), args.repeats),
        "fused": timeit(lambda: run_fused(p, j, m0, n), args.repeats),
        "eager": timeit(
            lambda: llgs.simulate(
                torch.tensor(m0), j, p, T_END, DT, record_every=every, method="rk4"
            ),
            max(1, args.repeats - 2),
        ),
    }

    # Agreement at the log points: cmtj's entry stamped t holds m(t + dt).
    t_ref, m_ref = run_cmtj(p, j, m0)
    checks = np.linspace(0, len(t_ref) - 1, 20).astype(int)
    worst = 0.0
    for k in checks:
        steps = int(round(t_ref[k] / DT)) + 1
        m = run_fused(p, j, m0, steps).numpy()
        worst = max(worst, float(np.abs(m - m_ref[k]).max()))
    print(f"largest |m_fused - m_cmtj| at 20 log points over 100 ns: {worst:.2e}")

    rows, table = [], []
    for name, t in timings.items():
        ratio = t["median"] / timings["cmtj"]["median"]
        rows.append({"solver": name, "wall_s": t, "ratio_vs_cmtj": ratio})
        table.append(
            [
                name,
                f"{t['median'] * 1e3:.1f} ({t['min'] * 1e3:.1f}-{t['max'] * 1e3:.1f})",
                f"{ratio:.2f}",
                f"{t['median'] / n * 1e9:.0f}",
            ]
        )
        print(" | ".join(table[-1]))
    config = {
        "t_end_s": T_END,
        "dt_s": DT,
        "steps": n,
        "method": "rk4",
        "dtype": "float64",
        "device": "Set A, h_k 0.01 T, beta_fl 0.1, 1.5 j_c, cmtj gamma0",
        "max_abs_difference_vs_cmtj": worst,
    }
    md = markdown_table(["solver", "wall ms (min-max)", "x cmtj", "ns per step"], table)
    write("cmtj", info, config, rows, md)


if __name__ == "__main__":
    main()
