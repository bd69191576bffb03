"""Generate the physics figures of the documentation from the library itself.

Run by ``conf.py`` at every build (``python docs/make_figures.py OUTDIR`` also works).
Each figure is computed here, in a few seconds, with the same functions users call;
nothing is pasted.
"""

from __future__ import annotations

import math
import sys
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

import shno_neurons as sn  # noqa: E402
from shno_neurons import llgs, presets  # noqa: E402
from shno_neurons.constants import MU0  # noqa: E402


def collinear_error(dt: float, method: str, t_end: float = 0.2e-9) -> float:
    """Error of m_z against the exact collinear solution after ``t_end`` seconds."""
    h = 0.5 / MU0
    p = sn.SHNOParameters(
        ms=8e5,
        alpha=0.05,
        h_ext=(0.0, 0.0, h),
        demag=(0.0, 0.0, 0.0),
        sigma=(0.0, 0.0, -1.0),
        h_k=0.0,
    )
    j = 0.5 * 0.05 * h / p.h_dl_per_j()
    mz0 = -0.9
    m0 = torch.tensor([math.sqrt(1 - mz0**2), 0.0, mz0], dtype=torch.float64)
    with warnings.catch_warnings():
        # The coarse Euler steps are shown on purpose; their accuracy warning is known.
        warnings.simplefilter("ignore", UserWarning)
        _, traj = llgs.simulate(
            m0, j, p, t_end, dt, record_every=round(t_end / dt), method=method
        )
    g = p.gamma0 / (1 + p.alpha**2)
    rate = g * (p.alpha * h - p.h_dl_per_j() * j)
    exact = math.tanh(t_end * rate + math.atanh(mz0))
    return abs(float(traj[-1, 2]) - exact)


def integrator_figure(out: Path) -> None:
    steps = np.array([0.25e-12, 0.5e-12, 1e-12, 2e-12, 4e-12])
    fig, ax = plt.subplots(figsize=(5, 3.6))
    for method, marker in [("euler", "o"), ("heun", "s"), ("rk4", "^")]:
        errors = np.array([collinear_error(float(dt), method) for dt in steps])
        keep = errors > 1e-14
        order = np.polyfit(np.log(steps[keep]), np.log(errors[keep]), 1)[0]
        ax.loglog(
            steps * 1e12, errors, marker=marker, label=f"{method} (order {order:.2f})"
        )
    ax.set_xticks(steps * 1e12, [f"{x:g}" for x in steps * 1e12])
    ax.minorticks_off()
    ax.set_xlabel("integrator step dt (ps)")
    ax.set_ylabel("|m_z - exact| after 0.2 ns")
    ax.set_title("Error against the exact collinear solution")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "integrator_error.png", dpi=120)
    plt.close(fig)


def readout_figure(out: Path) -> None:
    p = presets.NIFE_PT
    jc = p.threshold_current_density()
    mult = torch.tensor([0.8, 1.5, 3.0, 5.0], dtype=torch.float64)
    m0 = sn.rest_direction(p, dtype=torch.float64).expand(len(mult), 3)
    t, traj = llgs.simulate(m0, mult * jc, p, 3e-9, 1e-12, record_every=2)
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for i, k in enumerate(mult.tolist()):
        ax.plot(t.numpy() * 1e9, traj[:, i, 1].numpy(), lw=0.8, label=f"{k:g} j_c")
    ax.axhline(0.5, color="k", ls="--", lw=0.8, label="threshold 0.5")
    ax.set_xlabel("time (ns)")
    ax.set_ylabel("readout m_y")
    ax.set_title("Set A (NiFe/Pt): leak below j_c, growth above")
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(out / "readout_set_a.png", dpi=120)
    plt.close(fig)


def easy_plane_figure(out: Path) -> None:
    p = presets.EASY_PLANE
    jc = p.threshold_current_density()
    m0 = sn.rest_direction(p, dtype=torch.float64)
    t, traj = llgs.simulate(m0, 1.2 * jc, p, 5e-9, 1e-12, record_every=2)
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.plot(t.numpy() * 1e9, (traj[:, 1] ** 2).numpy(), lw=0.8)
    ax.set_xlabel("time (ns)")
    ax.set_ylabel("readout (m_y)^2")
    ax.set_title("Easy-plane neuron at 1.2 j_c: one pulse per half turn")
    fig.tight_layout()
    fig.savefig(out / "easy_plane_spikes.png", dpi=120)
    plt.close(fig)


def main(out: Path | str) -> None:
    """Write every figure into ``out`` (created if needed)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_default_dtype(torch.float64)
    try:
        integrator_figure(out)
        readout_figure(out)
        easy_plane_figure(out)
    finally:
        torch.set_default_dtype(torch.float32)


if __name__ == "__main__":
    main(
        sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "_static/figures"
    )
