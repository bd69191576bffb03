"""Draw the figure at the top of README.md, ``docs/_static/readme.png``.

Left: one SHNO neuron of the hybrid classifier's spiking layer (Set A, NiFe/Pt) driven
at 3 j_c from rest, its readout m_y resolved at every 4 ps integrator substep by
:func:`shno_neurons.adapters.figures.fine_readout`: the precession grows under the
antidamping torque, crosses the threshold (a spike) and the ``zero`` reset puts m
back at rest. Right: spike rate against constant drive for the SHNO and for
snnTorch's ``Leaky`` and Norse's ``LIFCell``, each in units of its own rheobase
(:func:`shno_neurons.adapters.functional_compare.fi_curves`, 200 steps per drive).

Run from the repository root: ``python docs/readme_figure.py`` (about half a minute).
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from shno_neurons.adapters.figures import fine_readout  # noqa: E402
from shno_neurons.adapters.functional_compare import (  # noqa: E402
    fi_curves,
    plot_fi_curves,
)
from shno_neurons.adapters.models import ModelConfig, build_model  # noqa: E402
from shno_neurons.adapters.plotting import plot_readout  # noqa: E402


def main(out: Path) -> None:
    torch.manual_seed(0)
    # The classifier's spiking layer as built for training; a zero feature maps to
    # the initial bias, 3 j_c.
    config = ModelConfig(
        n_neurons=1, hidden=(4,), head_hidden=2, steps=30, reset="zero"
    )
    block = build_model(config).block
    t, readout, spikes = fine_readout(block, torch.zeros(1), [0])

    curves = fi_curves(torch.linspace(0.0, 8.0, 33), steps=200)

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.6))
    plot_readout(
        readout,
        threshold=config.threshold,
        spikes=spikes,
        t=t,
        ax=ax1,
        title="SHNO neuron at 3 j_c: m_y at every 4 ps substep",
    )
    ax1.get_legend().remove()
    ax1.set_ylabel("readout m_y")
    plot_fi_curves(curves, ax=ax2, title="Rate against drive (200 steps each)")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else here / "_static" / "readme.png")
