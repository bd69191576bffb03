"""An snnTorch tutorial network with ``snn.Leaky`` swapped for the SHNO neuron.

The network is the two-layer, fully connected one of snnTorch's tutorial 5
(``Linear -> Leaky -> Linear -> Leaky``, trained through time with a rate-coded
cross-entropy loss on the output spikes). Only the line that builds a neuron changes:

    snn.Leaky(beta=0.95, spike_grad=spike_grad)                      # before
    SHNO(scale=3 * jc, j_bias=3 * jc, spike_grad=spike_grad, ...)    # after

``scale`` turns the ``Linear`` layers' outputs (order one) into current densities in
A/m^2 and ``j_bias`` sets the operating point, both in units of the device's threshold
current density ``jc``; 12 network steps of 0.1 ns give each image 1.2 ns of
magnetization dynamics.

Data: digits 0-3 of the MNIST sample bundled with the package (no download).

Run:  python examples/snntorch_drop_in.py              (about 1 min on a laptop CPU)
      python examples/snntorch_drop_in.py --neuron leaky   (the original network)
      python examples/snntorch_drop_in.py --quick      (a smoke test, seconds)

Measured once on a 2-core machine shared with other jobs (digits 0-3, 400 training and
400 test images, 3 epochs, defaults): test accuracy 75.2 %, 81.8 %, 77.2 % after epochs
1 to 3 (chance: 25 %), 40 s wall, 21 s of CPU time. The learning rate is not tuned; the
hybrid classifier (``hybrid_classifier.py``) is the tuned model.
"""

from __future__ import annotations

import argparse
import os
import time

import snntorch as snn
import torch
from shno_neurons.adapters.data import DataConfig, load_data
from snntorch import functional as SF
from snntorch import surrogate
from torch import nn

from shno_neurons import presets
from shno_neurons.snntorch import SHNO

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--neuron", choices=["shno", "leaky"], default="shno")
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--per-class", type=int, default=100, help="images per class")
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
num_inputs, num_hidden, num_outputs = 784, 32, 4
num_steps = 12
spike_grad = surrogate.fast_sigmoid(slope=5)
jc = presets.NIFE_PT.threshold_current_density()  # 1.05e12 A/m^2 (NiFe/Pt, Set A)


def make_neuron() -> nn.Module:
    if args.neuron == "leaky":
        return snn.Leaky(beta=0.95, spike_grad=spike_grad)
    # The swap. dt_sub = 4 ps keeps RK4 within ~1e-5 of the exact trajectory, and the
    # fused backend runs the 25 substeps of each 0.1 ns step in one compiled kernel.
    return SHNO(
        scale=3 * jc,
        j_bias=3 * jc,
        spike_grad=spike_grad,
        dt_sub=4e-12,
        backend="fused",
    )


class Net(nn.Module):
    """snnTorch tutorial 5's network; the neurons come from ``make_neuron``."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(num_inputs, num_hidden)
        self.lif1 = make_neuron()
        self.fc2 = nn.Linear(num_hidden, num_outputs)
        self.lif2 = make_neuron()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mem1 = self.lif1.reset_mem()  # Leaky: zeros; SHNO: None = the rest state
        mem2 = self.lif2.reset_mem()
        spk2_rec = []
        for _ in range(num_steps):
            spk1, mem1 = self.lif1(self.fc1(x), mem1)
            spk2, mem2 = self.lif2(self.fc2(spk1), mem2)
            spk2_rec.append(spk2)
        return torch.stack(spk2_rec)  # [T, B, num_outputs]


net = Net()
optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
loss_fn = SF.ce_rate_loss()  # cross-entropy on the spike counts

# ---------------------------------------------------------------- training loop
t0 = time.perf_counter()
for epoch in range(args.epochs):
    perm = torch.randperm(len(x_train))
    for i in range(0, len(x_train), 32):
        idx = perm[i : i + 32]
        spk_rec = net(x_train[idx])
        loss = loss_fn(spk_rec, y_train[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        spk_test = net(x_test)
    acc = SF.accuracy_rate(spk_test, y_test)
    print(
        f"epoch {epoch + 1}: train loss {loss.item():.3f}, test accuracy "
        f"{100 * acc:.1f} %, {spk_test.mean().item():.3f} output spikes per neuron "
        f"per step, {time.perf_counter() - t0:.0f} s"
    )

print(f"{args.neuron}: final test accuracy {100 * acc:.1f} % (chance: 25 %)")
