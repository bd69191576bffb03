"""Characterise an SHNO preset: f-J curve, amplitude, growth rate and threshold.

What a device physicist measures first, computed from the macrospin LLGS equation:

1. the small-signal numbers in closed form: Kittel frequency, relaxation rate (the
   neuron's leak) and the auto-oscillation threshold ``j_c``;
2. a current sweep (:func:`shno_neurons.characterise.sweep_current`): one macrospin
   per current density, all simulated in one batched call, started a small angle away
   from equilibrium; for each current the growth rate of the deviation (negative below
   threshold: the leak; positive above it), and the oscillation frequency and
   amplitude once it has settled;
3. the threshold read off the sweep (``extract_threshold``,
   where the growth rate crosses zero), checked against the closed form.

The figure shows frequency and amplitude against current (the f-J curve) beside the
growth rate.

Run:  python examples/device_characterisation.py                  (Set A, NiFe/Pt)
      python examples/device_characterisation.py --preset w_cofeb_pma
      python examples/device_characterisation.py --quick          (a smoke test)

Measured once (29 currents, 6 ns each, 1 ps RK4; about 5 s): the sweep's threshold is
within 0.01 % of the closed form for nife_pt and 0.2 % for w_cofeb_pma.
"""

from __future__ import annotations

import argparse
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from shno_neurons.adapters.plotting import plot_sweep  # noqa: E402

from shno_neurons import presets  # noqa: E402
from shno_neurons.characterise import extract_threshold, sweep_current  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument(
    "--preset",
    default="nife_pt",
    choices=["nife_pt", "w_cofeb_pma"],
    help="an auto-oscillator preset (the easy-plane neuron has no growth rate to fit)",
)
parser.add_argument("--out", default="device_characterisation.png")
parser.add_argument("--quick", action="store_true", help="fewer currents, shorter runs")
args = parser.parse_args()
quick = args.quick or os.environ.get("SHNO_EXAMPLES_QUICK") == "1"

p = presets.PRESETS[args.preset]

# ---------------------------------------------------------- 1. closed forms
jc = p.threshold_current_density()
print(f"preset {args.preset}")
print(f"  Kittel frequency     {p.kittel_frequency() / 1e9:8.3f} GHz")
print(
    f"  relaxation rate      {p.decay_rate():8.4g} 1/s  (1/rate = "
    f"{1e9 / p.decay_rate():.3f} ns: the leak)"
)
print(f"  threshold field      {p.threshold_field():8.1f} A/m")
print(f"  threshold j_c        {jc:8.4g} A/m^2 (closed form)")

# ---------------------------------------------------------- 2. the current sweep
# Currents from 0.2 to 3 j_c (quick: 0.6 to 1.4 j_c, around the threshold only), in the
# sign that drives the device (the closed form carries it: W has theta_SH < 0).
j_lo, j_hi, n = (0.6, 1.4, 8) if quick else (0.2, 3.0, 29)
j_values = torch.linspace(j_lo, j_hi, n, dtype=torch.float64) * jc
sweep = sweep_current(p, j_values, t_end=6e-9, dt=1e-12)

print("\n  j / j_c   growth rate (1/s)   frequency (GHz)   amplitude")
for j, g, f, a in zip(
    sweep.j / jc, sweep.growth_rate, sweep.frequency, sweep.amplitude, strict=True
):
    print(f"  {j:7.2f}   {g:+14.4g}   {f / 1e9:14.3f}   {a:10.3f}")

# ---------------------------------------------------------- 3. the threshold
# Interpolate between the two currents that bracket the sign change: the growth rate is
# linear in j only close to threshold (on the W/CoFeB preset it jumps once the orbit
# leaves the small-angle range a little above j_c).
j_th = extract_threshold(sweep, n_fit=2)
error = abs(j_th / jc - 1)
print(f"\n  threshold from the sweep {j_th:.4g} A/m^2, {100 * error:.2f} % from j_c")

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
plot_sweep(sweep, j_threshold=j_th, ax=ax1, title=f"{args.preset}: f-J curve")
ax2.axhline(0.0, color="k", lw=0.8)
ax2.plot((sweep.j / jc).numpy(), sweep.growth_rate.numpy() / 1e9, "o-", ms=3)
ax2.axvline(j_th / jc, color="k", ls=":", label=f"threshold {j_th / jc:.3f} j_c")
ax2.set_xlabel("current density / j_c")
ax2.set_ylabel("growth rate (1/ns)")
ax2.set_title("below threshold: leak; above: growth")
ax2.legend()
fig.tight_layout()
fig.savefig(args.out, dpi=120)
plt.close(fig)
print(f"wrote {args.out}")

# The sweep must find the closed-form threshold (a check, not decoration).
if error > 0.05:
    raise SystemExit(
        f"the sweep's threshold is {100 * error:.1f} % off the closed form"
    )
