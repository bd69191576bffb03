"""The main job in library calls: a hybrid ANN-SNN classifier with SHNO neurons.

``shno-neurons train`` does exactly this; here every step is a visible call:

1. describe the run (data, model, training) with the library's config dataclasses;
2. load the bundled MNIST sample (real digits, no download);
3. build the model: an ANN encoder, a current mapping into A/m^2, one layer of SHNO
   neurons (snnTorch front-end) integrated with the LLGS equation, two heads;
4. train it with the library's one training loop, which writes the run directory
   (metrics, checkpoints, figures);
5. reload the best checkpoint and evaluate it; look at the spikes, the magnetization
   of a few neurons and the currents the network learned to drive.

Run:  python examples/hybrid_classifier.py           (about a minute on a laptop CPU)
      python examples/hybrid_classifier.py --quick   (a smoke test)

Measured once on a 2-core machine shared with other jobs (digits 0-3, 1200 training and
400 test images, 6 epochs; the notebook version, same configuration and seed): test
accuracy of the spiking head 95.0 % after the first epoch and 97.5 % after the sixth
(auxiliary head 89.0 %), 1.35 spikes per neuron per image, 95 s wall including the
kernel start, 60 s of CPU time. ``shno-neurons train --epochs 6 --limit-per-class 300``
gives the same numbers: it is the same loop.
"""

from __future__ import annotations

import argparse
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from shno_neurons.adapters import figures, plotting  # noqa: E402
from shno_neurons.adapters.data import DataConfig, as_dataset, load_data  # noqa: E402
from shno_neurons.adapters.models import ModelConfig, build_model  # noqa: E402
from shno_neurons.adapters.training import (  # noqa: E402
    RunConfig,
    TrainConfig,
    evaluate,
    load_checkpoint,
    train,
)

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--out", default="runs/hybrid_classifier", help="run directory")
parser.add_argument("--quick", action="store_true", help="tiny run for CI")
args = parser.parse_args()
quick = args.quick or os.environ.get("SHNO_EXAMPLES_QUICK") == "1"

# ------------------------------------------------------------ 1. describe the run
config = RunConfig(
    data=DataConfig(classes=("0", "1", "2", "3"), limit_per_class=10 if quick else 300),
    model=ModelConfig(),  # the defaults of `shno-neurons train`, printed below
    train=TrainConfig(epochs=1 if quick else 6, seed=0),
)
if quick:
    config.model.hidden, config.model.n_neurons, config.model.head_hidden = (
        (32, 16),
        8,
        8,
    )
m = config.model
print(
    f"{m.n_neurons} SHNO neurons ({m.preset}), {m.steps} steps of {m.dt * 1e9:g} ns "
    f"({m.dt_sub * 1e12:g} ps RK4 substeps, {m.backend} backend), threshold "
    f"{m.threshold} on m_y, reset {m.reset!r}, initial drive {m.bias_init:g} j_c"
)

# ------------------------------------------------------------------ 2. the data
data = load_data(config.data)
print(
    f"classes {data.classes}: {len(data.train.labels)} training and "
    f"{len(data.test.labels)} test images of shape {tuple(data.train.images.shape[1:])}"
)

# ----------------------------------------------------------------- 3. the model
model = build_model(config.model)
print(model.block)  # the current mapping and the snnTorch container of SHNO neurons
n_params = sum(p.numel() for p in model.parameters())
print(f"{n_params} trainable parameters")

# ----------------------------------------------------------------- 4. training
# The library's training loop: Adam, a cosine schedule, an auxiliary loss on the final
# magnetization that hands over to the spiking head; metrics, checkpoints and the run's
# figures go to args.out. (train builds its own model from the config, seeded.)
result = train(config, args.out, data=data, progress=False)
for row in result.history:
    print(
        f"epoch {row['epoch']}: test accuracy {100 * row['test_acc']:.1f} % "
        f"(spiking head), {100 * row['test_acc_aux']:.1f} % (aux head), "
        f"{row['test_spikes_per_neuron']:.2f} spikes per neuron per image"
    )

# -------------------------------------------------- 5. reload, evaluate and look
config, model, _ = load_checkpoint(args.out)  # best.pt of the run
test = as_dataset(data.test)
with torch.no_grad():
    ev = evaluate(model, test)
print(f"best checkpoint: test accuracy {100 * ev.metrics()['test_acc']:.1f} %")
print("confusion matrix (rows: true class):")
print(ev.confusion(len(data.classes)))

# One test image through the model: its spikes and its drive currents.
images = test.tensors[0][:1]
with torch.no_grad():
    out = model(images)
    features = model.encoder(images)
    currents = model.block.mapping(features)  # A/m^2, [1, n]
j_c = model.block.mapping.j_c
print(
    f"drive currents for this image: {currents.min() / j_c:.2f} to "
    f"{currents.max() / j_c:.2f} j_c; {int(out.spikes.sum())} spikes in "
    f"{config.model.steps} steps"
)

# The m_y of the three most active neurons at every integrator substep.
most_active = out.spikes[:, 0].sum(0).argsort(descending=True)[:3].tolist()
t, readout, spikes = figures.fine_readout(model.block, features[0], most_active)

fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
plotting.raster_snntorch(out.spikes, ax=axes[0], title="spikes, one test image")
plotting.plot_readout(
    readout,
    threshold=config.model.threshold,
    spikes=spikes,
    t=t,
    ax=axes[1],
    neurons=[0, 1, 2],
    title=f"m_y of neurons {most_active} (most active)",
)
figures.plot_drive(currents[0], j_c, config.model.j_max, ax=axes[2])
fig.tight_layout()
fig.savefig(f"{args.out}/figures/one_image.png", dpi=120)
plt.close(fig)
print(f"figures in {args.out}/figures/")
