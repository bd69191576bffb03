"""SHNO against LIF neurons, with no training: the same drive through each model.

The drive is given in units of each model's rheobase (the smallest constant input that
ever fires it): ``j_c`` for the SHNO, ``(1 - beta) U_thr`` for snnTorch's ``Leaky``,
``(v_th - v_leak) dt tau_syn_inv`` for Norse's ``LIFCell``
(:mod:`shno_neurons.adapters.functional_compare`). Two experiments:

1. f-I curves: each of a range of constant drives held for a number of steps, spikes
   counted; rate in spikes per step against drive in rheobases.
2. A step response: off for 5 steps, then 3 rheobases: each model's readout (the
   SHNO's ``m_y``, the LIF membrane potentials), threshold and spikes.

What to look for: every model is silent up to one rheobase. The LIF rates rise
monotonically with the drive. The SHNO rate tracks them up to about 4 j_c and then
turns irregular (bursts of fast firing, locking to every fourth step, near silence at
8 j_c), as large drives move the orbit of m away from the readout threshold: the
macrospin's own nonlinearity. After the step the SHNO needs about a nanosecond for its
precession to grow to the threshold. The readout panels sample each model once per
step; the SHNO's m_y oscillates at 8 GHz within a 0.1 ns step, so its per-step samples
look ragged and a spike (a crossing at any substep) can sit between two samples below
the threshold. ``docs/readme_figure.py`` draws the same neuron at substep resolution.

Run:  python examples/lif_vs_shno.py          (about 10 s on a laptop CPU)
      python examples/lif_vs_shno.py --quick  (a smoke test)
"""

from __future__ import annotations

import argparse
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from shno_neurons.adapters.functional_compare import (  # noqa: E402
    drive_responses,
    fi_curves,
    fi_figure,
)

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--out", default="lif_vs_shno.png")
parser.add_argument("--quick", action="store_true", help="fewer drives and steps")
args = parser.parse_args()
quick = args.quick or os.environ.get("SHNO_EXAMPLES_QUICK") == "1"

# ------------------------------------------------------------------ 1. f-I curves
drives = torch.linspace(0.0, 8.0, 9 if quick else 33)  # rheobases
steps = 30 if quick else 200  # the SHNO: 200 steps of 0.1 ns = 20 ns per drive
curves = fi_curves(drives, steps=steps)

print("drive (rheobases)  " + "  ".join(f"{name:>8}" for name in curves))
for k, d in enumerate(drives.tolist()):
    rates = "  ".join(f"{c.rate[k].item():8.3f}" for c in curves.values())
    print(f"{d:17.2f}  {rates}")
shno = curves["shno"]
peak = int(shno.rate.argmax())
print(
    f"SHNO peak rate {shno.rate[peak].item():.3f} spikes per step "
    f"({shno.rate_hz[peak].item() / 1e9:.2f} GHz) at {drives[peak].item():.2f} j_c"
)

# ------------------------------------------------------------- 2. a step response
step_drive = torch.cat([torch.zeros(5), torch.full((25 if quick else 40,), 3.0)])
responses = drive_responses(step_drive)
for name, r in responses.items():
    fired = torch.nonzero(r.spikes[:, 0]).flatten()
    first = int(fired[0]) - 5 if len(fired) else None
    print(f"{name:6s}: first spike {first} steps after the step, {len(fired)} spikes")

fig = fi_figure(curves, responses)
fig.savefig(args.out, dpi=120)
plt.close(fig)
print(f"wrote {args.out}")
