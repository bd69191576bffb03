"""A Norse network with ``norse.torch.LIF`` swapped for the SHNO neuron.

The network is written the way Norse's tutorials write one: a time-first
``SequentialState`` of lifted linear layers, a spiking layer and a leaky-integrator
readout (``LI``), decoded by the maximum of the readout voltage over time. The input
image is held constant over the time steps (constant-current encoding). Only the
spiking layer changes:

    norse.LIF()                                                  # before
    SHNO(neuron=NeuronParameters(j_bias=3 * jc), scale=3 * jc)   # after

``scale`` turns the linear layer's output (order one) into a current density in A/m^2
and ``j_bias`` sets the operating point, both in units of the device's threshold
current density ``jc``. The network step is 0.1 ns, not Norse's 1 ms: 12 steps give
each image 1.2 ns of magnetization dynamics. The ``LI`` readout keeps Norse's own
(dimensionless) time constants; it only integrates the spikes it is given.

Data: digits 0-3 of the MNIST sample bundled with the package (no download).

Run:  python examples/norse_drop_in.py               (about 1 min on a laptop CPU)
      python examples/norse_drop_in.py --neuron lif  (the original network)
      python examples/norse_drop_in.py --quick       (a smoke test, seconds)

Measured once on a 2-core machine shared with other jobs (digits 0-3, 400 training and
400 test images, 3 epochs, defaults): test accuracy 71.5 %, 71.5 %, 74.3 % after epochs
1 to 3 (chance: 25 %), 91 s wall, 69 s of CPU time.
"""

from __future__ import annotations

import argparse
import os
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import norse.torch as norse  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from shno_neurons.adapters.data import DataConfig, load_data  # noqa: E402
from shno_neurons.adapters.plotting import raster_norse  # noqa: E402
from torch import nn  # noqa: E402

from shno_neurons import NeuronParameters, presets  # noqa: E402
from shno_neurons.norse import SHNO  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--neuron", choices=["shno", "lif"], default="shno")
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--per-class", type=int, default=100, help="images per class")
parser.add_argument("--out", default="norse_drop_in.png", help="raster figure")
parser.add_argument("--quick", action="store_true", help="tiny run for CI")
args = parser.parse_args()
if args.quick or os.environ.get("SHNO_EXAMPLES_QUICK") == "1":
    args.epochs, args.per_class = 1, 8
torch.manual_seed(0)

# ---------------------------------------------------------------- data (as tensors)
data = load_data(
    DataConfig(classes=("0", "1", "2", "3"), limit_per_class=args.per_class)
)
x_train = data.train.images.float().div(255).flatten(1)  # [N, 784], in [0, 1]
y_train = data.train.labels
x_test = data.test.images.float().div(255).flatten(1)
y_test = data.test.labels

# ------------------------------------------------------------------ the network
T = 12
jc = presets.NIFE_PT.threshold_current_density()  # 1.05e12 A/m^2 (NiFe/Pt, Set A)

if args.neuron == "lif":
    spiking = norse.LIF()
else:
    # The swap. 4 ps RK4 substeps (within ~1e-5 of the exact path), run by the fused
    # kernel; Norse's "super" surrogate on the readout margin.
    neuron = NeuronParameters(j_bias=3 * jc, dt_sub=4e-12, backend="fused")
    spiking = SHNO(neuron=neuron, scale=3 * jc)

model = norse.SequentialState(
    norse.Lift(nn.Linear(784, 32)),
    spiking,
    norse.Lift(nn.Linear(32, 4)),
    norse.LI(),
    return_hidden=True,  # every layer's output: the spikes are model output [1]
)


def decode(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probabilities from the readout's peak voltage, and the hidden spikes."""
    xs = x.unsqueeze(0).expand(
        T, *x.shape
    )  # constant current over T steps: [T, B, 784]
    outputs, _ = model(xs)
    spikes, voltages = outputs[1], outputs[-1]  # [T, B, 32] and [T, B, 4]
    return F.log_softmax(voltages.max(0).values, dim=1), spikes


optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)

# ---------------------------------------------------------------- training loop
t0 = time.perf_counter()
for epoch in range(args.epochs):
    perm = torch.randperm(len(x_train))
    for i in range(0, len(x_train), 32):
        idx = perm[i : i + 32]
        log_p, _ = decode(x_train[idx])
        loss = F.nll_loss(log_p, y_train[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        log_p, hidden = decode(x_test)
    acc = (log_p.argmax(1) == y_test).float().mean().item()
    print(
        f"epoch {epoch + 1}: train loss {loss.item():.3f}, test accuracy "
        f"{100 * acc:.1f} %, {hidden.mean().item():.3f} hidden spikes per neuron per "
        f"step, {time.perf_counter() - t0:.0f} s"
    )

print(f"{args.neuron}: final test accuracy {100 * acc:.1f} % (chance: 25 %)")

# Spikes of the hidden layer for the first test image, with Norse's own raster plot.
ax = raster_norse(hidden, sample=0, title=f"{args.neuron}: hidden spikes, one image")
ax.figure.savefig(args.out, dpi=120)
plt.close(ax.figure)
print(f"wrote {args.out}")
