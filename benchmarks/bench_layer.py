"""One spiking layer, open-neuromorphic benchmark layout, on the CPU.

``Linear(n, n)`` followed by a spiking neuron, batch 16, T = 100 time steps, for
n = 512, 1024 and 4096: snnTorch ``Leaky``, Norse ``LIFBoxCell`` and the SHNO neuron
(``shno_neurons.snntorch.SHNO``, fused backend, RK4) with K = 1, 10 and 100 substeps
per time step (network step K x 1 ps). Forward (autograd recording, as in training)
and forward + backward of the summed spikes; the SHNO/LIF ratios are taken within the
same run, so load from other jobs on the machine affects both sides alike.

Usage::

    python benchmarks/bench_layer.py                 # all sizes, 1 thread
    python benchmarks/bench_layer.py --sizes 512 --threads 2
"""

from __future__ import annotations

import argparse

import snntorch as snn
import torch
from _common import machine, markdown_table, print_machine, timeit, write
from norse.torch import LIFBoxCell
from torch import nn

from shno_neurons import presets
from shno_neurons.snntorch import SHNO

BATCH = 16
STEPS = 100
JC = presets.NIFE_PT.threshold_current_density()


class Layer(nn.Module):
    """``Linear(n, n)`` and one neuron, run over the time-first input ``(T, B, n)``."""

    def __init__(self, n: int, kind: str, substeps: int = 0) -> None:
        super().__init__()
        self.kind = kind
        self.linear = nn.Linear(n, n)
        if kind == "leaky":
            self.neuron = snn.Leaky(beta=0.9)
        elif kind == "lifbox":
            self.neuron = LIFBoxCell()
        else:
            self.neuron = SHNO(
                scale=2.0 * JC,
                j_bias=3.0 * JC,
                dt=substeps * 1e-12,
                dt_sub=1e-12,
                backend="fused",
                reset_mechanism="zero",
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        state = self.neuron.init_leaky() if self.kind == "leaky" else None
        if self.kind == "shno":
            self.neuron.reset_hidden()  # each run starts from rest
        spikes = []
        for t in range(x.shape[0]):
            spk, state = self.neuron(self.linear(x[t]), state)
            spikes.append(spk)
        return torch.stack(spikes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 4096])
    parser.add_argument("--substeps", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    info = machine()
    print_machine(info)

    kinds = [("leaky", 0), ("lifbox", 0)] + [("shno", k) for k in args.substeps]
    rows, table = [], []
    for n in args.sizes:
        torch.manual_seed(0)
        x = torch.rand(STEPS, BATCH, n)
        base = {}
        for kind, k in kinds:
            layer = Layer(n, kind, k)

            def forward(layer=layer, x=x):
                return layer(x)

            def forward_backward(layer=layer, x=x):
                layer.zero_grad(set_to_none=True)
                layer(x).sum().backward()

            tf = timeit(forward, args.repeats)
            tb = timeit(forward_backward, args.repeats)
            name = f"shno K={k}" if kind == "shno" else kind
            if kind != "shno":
                base[kind] = (tf["median"], tb["median"])
            row = {
                "n": n,
                "model": name,
                "forward_s": tf,
                "forward_backward_s": tb,
                "ratio_vs_leaky": [
                    tf["median"] / base["leaky"][0],
                    tb["median"] / base["leaky"][1],
                ],
                "ratio_vs_lifbox": (
                    [
                        tf["median"] / base["lifbox"][0],
                        tb["median"] / base["lifbox"][1],
                    ]
                    if "lifbox" in base
                    else None
                ),
            }
            rows.append(row)
            line = [
                n,
                name,
                f"{tf['median'] * 1e3:.1f} ({tf['min'] * 1e3:.1f}-"
                f"{tf['max'] * 1e3:.1f})",
                f"{tb['median'] * 1e3:.1f} ({tb['min'] * 1e3:.1f}-"
                f"{tb['max'] * 1e3:.1f})",
                f"{row['ratio_vs_leaky'][0]:.2f} / {row['ratio_vs_leaky'][1]:.2f}",
                (
                    f"{row['ratio_vs_lifbox'][0]:.2f} / {row['ratio_vs_lifbox'][1]:.2f}"
                    if row["ratio_vs_lifbox"]
                    else "-"
                ),
            ]
            table.append(line)
            print(" | ".join(str(c) for c in line), flush=True)
    config = {
        "batch": BATCH,
        "steps": STEPS,
        "threads": args.threads,
        "shno": "snnTorch front-end, fused, RK4, dt_sub 1 ps, drive 3 +- 2 j_c",
    }
    md = markdown_table(
        [
            "n",
            "model",
            "forward ms (min-max)",
            "forward+backward ms (min-max)",
            "x Leaky (fwd / fwd+bwd)",
            "x LIFBox (fwd / fwd+bwd)",
        ],
        table,
    )
    write(f"layer_{args.threads}thread", info, config, rows, md)


if __name__ == "__main__":
    main()
