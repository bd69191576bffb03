"""``shno-neurons compare``: SHNO against LIF layers and an ANN, all else equal.

Every variant is the hybrid classifier of :mod:`shno_neurons.adapters.models` with its
spiking layer swapped, trained by the one training loop
(:func:`shno_neurons.adapters.training.train`) on the same data, split, seeds and
budget:

====================  ==============================================================
``shno_snntorch``     SHNO neurons, snnTorch front-end
``shno_norse``        SHNO neurons, Norse front-end
``leaky``             ``snntorch.Leaky`` (:mod:`~shno_neurons.adapters.baselines`)
``lif``               Norse ``LIFCell``
``relu``              ANN ablation: ReLU in place of the spiking layer
``<name>_noaux``      the same, trained with the auxiliary loss switched off
====================  ==============================================================

Measured per run and summarised over seeds (mean and sample standard deviation):
test accuracy of the main (spiking) head and of the auxiliary head, the main head's
accuracy when trained without the auxiliary loss, spikes per neuron per sample and
the fraction of neurons silent on the whole test set, training time per epoch (the
training loop's ``epoch_time_s``, which includes that epoch's test pass), inference
latency per sample (batch of one, median), parameter counts, and energy:

* SHNO layer, Joule heating in the heavy metal (PHYSICS.md): every neuron carries its
  current density ``j`` through a Pt strip for the whole network step, so one
  inference costs ``E = rho (w t_HM l) dt sum_{t, n} j_{t, n}^2``, with the currents
  the trained model actually drives on the test set (captured from its
  :class:`~shno_neurons.adapters.models.CurrentMapping`). :class:`StripGeometry` states
  the assumed strip.
* Digital LIF hardware, beside it: every spike the layer emits is delivered to the
  next layer's synapses (fan-out = width of the main head's first layer); at the
  23.6 pJ per synaptic spike operation measured on Intel's Loihi
  (:data:`LOIHI_SYNOP_ENERGY`) that is ``spikes x fan-out x 23.6 pJ`` per inference.

The two numbers price different things (the analogue device's own dissipation; the
digital chip's cost of delivering spikes), and neither counts the encoder or the
heads; the report says so next to them.

Outputs in ``--out``: ``results.json`` (everything measured), ``report.md`` (written
from ``results.json`` only), ``figures/`` (accuracy curves, side-by-side rasters,
accuracy bars, energy), and ``runs/<variant>/seed<k>/`` (each training run's
directory).

Known shortcoming: the inference latency is measured with the model on the training
device one sample at a time, after one warm-up call; on a loaded machine it varies
by tens of percent between runs. The report gives it for relative comparison only.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import os
import platform
import statistics
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from .baselines import DriveMapping
from .data import DataConfig, DataSplit, as_dataset, load_data
from .models import CurrentMapping, ModelConfig, build_model
from .training import RunConfig, TrainConfig, resolve_device, train

__all__ = [
    "Variant",
    "VARIANTS",
    "StripGeometry",
    "LOIHI_SYNOP_ENERGY",
    "LOIHI_REFERENCE",
    "CompareConfig",
    "quick_config",
    "count_parameters",
    "inference_latency",
    "capture_currents",
    "joule_energy",
    "compare",
    "write_report",
    "write_figures",
    "add_arguments",
    "run",
]

log = logging.getLogger(__name__)

#: Energy of one synaptic spike operation on Intel's Loihi, J (the minimum measured
#: per-operation figure of the chip, 14 nm; :data:`LOIHI_REFERENCE`).
LOIHI_SYNOP_ENERGY = 23.6e-12
LOIHI_REFERENCE = (
    "M. Davies et al., Loihi: A Neuromorphic Manycore Processor with On-Chip "
    "Learning, IEEE Micro 38(1), 82-99 (2018)"
)


class Variant(NamedTuple):
    """One classifier variant: which spiking block, which host, which loss.

    Attributes:
        name: key in ``results.json`` and the report.
        block: :class:`~shno_neurons.adapters.models.ModelConfig` ``block``.
        framework: front-end of the SHNO block (``"snntorch"`` or ``"norse"``).
        aux_loss: train with the auxiliary loss (the training loop's schedule) or
            with the main head's loss alone.
        label: human-readable name.
        raster_style: framework whose raster style draws its spikes.
    """

    name: str
    block: str
    framework: str
    aux_loss: bool
    label: str
    raster_style: str


#: The base variants (each also exists as ``<name>_noaux``).
VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant(
            "shno_snntorch", "shno", "snntorch", True, "SHNO (snnTorch)", "snntorch"
        ),
        Variant("shno_norse", "shno", "norse", True, "SHNO (Norse)", "norse"),
        Variant("leaky", "leaky", "snntorch", True, "snnTorch Leaky", "snntorch"),
        Variant("lif", "lif", "norse", True, "Norse LIFCell", "norse"),
        Variant("relu", "relu", "snntorch", True, "ReLU (ANN ablation)", "snntorch"),
    )
}

#: Blocks whose output is not spikes (their "spike" metrics are activations).
_NON_SPIKING = ("relu",)


def _noaux(v: Variant) -> Variant:
    return v._replace(
        name=f"{v.name}_noaux", aux_loss=False, label=f"{v.label}, no aux loss"
    )


@dataclass(frozen=True)
class StripGeometry:
    """The heavy-metal strip under one SHNO, for the Joule-heating estimate (SI).

    The defaults are an assumption, not a measured device: the active region of a
    nano-constriction as wide and as long as the macrospin it drives (the 100 nm
    disc of :class:`~shno_neurons.parameters.SHNOParameters`' default ``volume``), in
    6 nm of Pt, the heavy-metal thickness of the NiFe(5 nm)/Pt(6 nm) constrictions of
    Set A's family; Pt resistivity 2e-7 Ohm m (PHYSICS.md). Leads and contacts are
    not counted.

    Attributes:
        width: strip width ``w``, m.
        length: length ``l`` carrying the current density ``j``, m.
        thickness: heavy-metal thickness ``t_HM``, m.
        resistivity: ``rho_HM``, Ohm m.
    """

    width: float = 100e-9
    length: float = 100e-9
    thickness: float = 6e-9
    resistivity: float = 2e-7

    def __post_init__(self) -> None:
        for name in ("width", "length", "thickness", "resistivity"):
            value = getattr(self, name)
            if not (
                isinstance(value, int | float) and math.isfinite(value) and value > 0
            ):
                raise ValueError(
                    f"StripGeometry.{name} = {value!r} must be a positive number (SI)."
                )

    @property
    def volume(self) -> float:
        """``w t_HM l``, m^3."""
        return self.width * self.thickness * self.length

    @property
    def resistance(self) -> float:
        """``rho l / (w t_HM)``, Ohm."""
        return self.resistivity * self.length / (self.width * self.thickness)


def joule_energy(
    currents: Sequence[Tensor], dt: float, geometry: StripGeometry
) -> Tensor:
    """Joule energy dissipated in the heavy metal, per sample, J.

    Args:
        currents: current densities, A/m^2, one tensor per network step, each of
            shape ``[B, ...]`` (sample first, then the neurons).
        dt: network step, s (each current flows for one step).
        geometry: the strip.

    Returns:
        ``rho V dt sum_{t, n} j^2`` for each sample, shape ``[B]``, float64.
    """
    if not currents:
        raise ValueError("currents is empty: no network step was captured.")
    total = sum(j.detach().to(torch.float64).pow(2).flatten(1).sum(1) for j in currents)
    return geometry.resistivity * geometry.volume * dt * total


@contextmanager
def capture_currents(model: nn.Module) -> Iterator[list[Tensor]]:
    """Collect the current densities an SHNO model drives (A/m^2) while active.

    Hooks every :class:`~shno_neurons.adapters.models.CurrentMapping` in
    ``model.block`` (not the LIF baselines' :class:`DriveMapping`, whose drive is
    dimensionless); each call of the mapping appends its output, one network step.

    Raises:
        ValueError: the model's block has no current mapping (not an SHNO model).
    """
    mappings = [
        m
        for m in model.block.modules()
        if isinstance(m, CurrentMapping) and not isinstance(m, DriveMapping)
    ]
    if not mappings:
        raise ValueError(
            f"capture_currents: {type(model.block).__name__} has no CurrentMapping; "
            "the Joule estimate applies to SHNO blocks only."
        )
    captured: list[Tensor] = []
    handles = [
        m.register_forward_hook(lambda _m, _i, out: captured.append(out.detach()))
        for m in mappings
    ]
    try:
        yield captured
    finally:
        for h in handles:
            h.remove()


def count_parameters(model: nn.Module) -> dict[str, int]:
    """Trainable parameter counts: total, spiking layer (``model.block``), the rest."""
    total = sum(p.numel() for p in model.parameters() if p.requires_grad)
    block = sum(p.numel() for p in model.block.parameters() if p.requires_grad)
    return {"total": total, "spiking_layer": block, "outside": total - block}


@torch.no_grad()
def inference_latency(
    model: nn.Module, images: Tensor, device: torch.device | str, repeats: int = 10
) -> float:
    """Median wall time of one forward pass on a single image, s.

    Args:
        model: the classifier (put in eval mode here).
        images: test images, ``[N, 1, 28, 28]``; the first ``repeats`` are timed one
            at a time after one warm-up call.
        device: where the model lives (CUDA is synchronised before reading the clock).
        repeats: how many single-image passes to time.
    """
    model.eval()
    device = torch.device(device)
    xs = images[: max(1, repeats)].to(device)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    model(xs[:1])
    sync()
    times = []
    for i in range(len(xs)):
        t0 = time.perf_counter()
        model(xs[i : i + 1])
        sync()
        times.append(time.perf_counter() - t0)
    return float(statistics.median(times))


# ------------------------------------------------------------------ configuration
@dataclass
class CompareConfig:
    """Budget and settings of a comparison; every variant gets the same.

    The default budget (4 classes of the embedded MNIST sample, 150 training images
    per class, 3 seeds, 3 epochs, nine variants) took 2 min 28 s of wall time (1 min
    54 s of CPU time) on 2 cores shared with a test run, with the classifier's
    defaults (zero reset, 4 ps substeps). Main-head test accuracy: SHNO 96.5 +- 0.7 %
    (both front-ends, identical), snnTorch ``Leaky`` 96.3 +- 0.5 %, Norse ``LIFCell``
    96.5 +- 0.9 %, ReLU ablation 96.6 +- 0.9 %; the report's last column shows how
    much each variant still gained in its last epoch.

    Attributes:
        data: the data set and split.
        model: the base classifier; each variant changes ``block`` and ``framework``.
        train: the base training settings; each run changes ``seed`` (and the
            auxiliary-loss weights for ``_noaux`` variants).
        seeds: training seeds; every variant is trained once per seed.
        variants: base variant names (:data:`VARIANTS`).
        no_aux: base variants also trained without the auxiliary loss.
        latency_repeats: single-image passes timed for the latency.
        geometry: heavy-metal strip of the Joule estimate.
    """

    data: DataConfig = field(default_factory=lambda: DataConfig(limit_per_class=150))
    model: ModelConfig = field(
        default_factory=lambda: ModelConfig(lif_beta=0.95, backend="fused")
    )
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(epochs=3, figures=False)
    )
    seeds: tuple[int, ...] = (0, 1, 2)
    variants: tuple[str, ...] = tuple(VARIANTS)
    no_aux: tuple[str, ...] = ("shno_snntorch", "leaky", "lif", "relu")
    latency_repeats: int = 10
    geometry: StripGeometry = field(default_factory=StripGeometry)

    def __post_init__(self) -> None:
        self.seeds = tuple(int(s) for s in self.seeds)
        self.variants = tuple(self.variants)
        self.no_aux = tuple(self.no_aux)
        if not self.seeds:
            raise ValueError("CompareConfig.seeds is empty; give at least one seed.")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"CompareConfig.seeds = {self.seeds} repeats a seed.")
        for name in (*self.variants, *self.no_aux):
            if name not in VARIANTS:
                raise ValueError(
                    f"CompareConfig: variant {name!r} is not one of {list(VARIANTS)}."
                )
        missing = [n for n in self.no_aux if n not in self.variants]
        if missing:
            raise ValueError(
                f"CompareConfig.no_aux names {missing}, which are not in variants "
                f"{list(self.variants)}."
            )
        if self.latency_repeats < 1:
            raise ValueError(
                f"CompareConfig.latency_repeats = {self.latency_repeats} must be >= 1."
            )

    def runs(self) -> list[Variant]:
        """Every variant to train, base ones first."""
        base = [VARIANTS[n] for n in self.variants]
        return base + [_noaux(VARIANTS[n]) for n in self.no_aux]


def quick_config() -> CompareConfig:
    """A smoke-test budget: two classes, a few images, tiny layers, one epoch.

    Twelve steps, so that the neurons, driven at 3 times threshold, have time to fire
    (Set A's first spike comes after about 0.9 ns; the LIF baselines' after about 8
    steps). The eager SHNO backend: the fused kernels' one-time compile would cost
    more than the whole smoke run.
    """
    return CompareConfig(
        data=DataConfig(classes=("0", "1"), limit_per_class=12),
        model=ModelConfig(
            hidden=(32, 16),
            n_neurons=8,
            head_hidden=8,
            steps=12,
            lif_beta=0.95,
        ),
        train=TrainConfig(
            epochs=1, batch_size=8, eval_batch_size=50, warmup_epochs=0, figures=False
        ),
        seeds=(0, 1),
        latency_repeats=2,
    )


# -------------------------------------------------------------------- the runs
def _stats(values: Sequence[float | None]) -> dict[str, float | int | None]:
    """Mean and sample standard deviation (``None`` with fewer than two values)."""
    vals = [float(v) for v in values if v is not None]
    if not vals:
        return {"mean": None, "std": None, "n": 0}
    std = float(np.std(vals, ddof=1)) if len(vals) > 1 else None
    return {"mean": float(np.mean(vals)), "std": std, "n": len(vals)}


def _fan_out(model: nn.Module) -> int:
    """Synapses each spiking neuron drives: width of the main head's first Linear."""
    for m in model.head.modules():
        if isinstance(m, nn.Linear):
            return int(m.out_features)
    raise ValueError("the main head has no nn.Linear layer to receive spikes.")


@torch.no_grad()
def _shno_energy(
    model: nn.Module,
    images: Tensor,
    dt: float,
    geometry: StripGeometry,
    device: torch.device,
    batch_size: int,
) -> float:
    """Mean Joule energy per test sample of the SHNO layer, J."""
    model.eval()
    energies = []
    for i in range(0, len(images), batch_size):
        x = images[i : i + batch_size].to(device)
        with capture_currents(model) as currents:
            model(x)
        energies.append(joule_energy(currents, dt, geometry).cpu())
    return float(torch.cat(energies).mean())


def _baseline_parameters(model: nn.Module, block: str) -> dict[str, Any]:
    """The LIF parameters the trained model actually used, read from its neuron."""
    b = model.block
    if block == "leaky":
        # snnTorch's surrogate factories return closures named <factory>.inner.
        surrogate = getattr(b.neuron.spike_grad, "__qualname__", "?").split(".")[0]
        return {
            "neuron": "snntorch.Leaky",
            "beta": float(b.neuron.beta),
            "threshold": float(b.neuron.threshold),
            "reset_mechanism": b.neuron.reset_mechanism,
            "surrogate": surrogate,
            "rheobase": b.mapping.rheobase,
        }
    if block == "lif":
        p = b.neuron.p
        return {
            "neuron": "norse.torch.LIFCell",
            "tau_syn_inv": float(p.tau_syn_inv),
            "tau_mem_inv": float(p.tau_mem_inv),
            "v_leak": float(p.v_leak),
            "v_th": float(p.v_th),
            "v_reset": float(p.v_reset),
            "method": str(p.method),
            "alpha": float(p.alpha),
            "dt": float(b.neuron.dt),
            "rheobase": b.mapping.rheobase,
        }
    return {}


def _run_one(
    variant: Variant,
    seed: int,
    config: CompareConfig,
    data: DataSplit,
    out: Path,
    progress: bool,
    raster_images: Tensor,
) -> tuple[dict[str, Any], nn.Module, Tensor | None]:
    model_cfg = dataclasses.replace(
        config.model, block=variant.block, framework=variant.framework
    )
    train_cfg = dataclasses.replace(config.train, seed=seed, figures=False)
    if not variant.aux_loss:
        train_cfg = dataclasses.replace(
            train_cfg, aux_weight_start=0.0, aux_weight_end=0.0
        )
    run_cfg = RunConfig(data=config.data, model=model_cfg, train=train_cfg)
    run_dir = out / "runs" / variant.name / f"seed{seed}"
    log.info("compare: training %s, seed %d -> %s", variant.name, seed, run_dir)
    result = train(run_cfg, run_dir, progress=progress, data=data)
    model, f = result.model, result.final
    device = resolve_device(train_cfg.device)
    test_images = as_dataset(data.test).tensors[0]
    spiking = variant.block not in _NON_SPIKING
    n = model_cfg.n_neurons
    row: dict[str, Any] = {
        "seed": seed,
        "test_acc": f["test_acc"],
        "test_acc_aux": f["test_acc_aux"],
        "spikes_per_neuron": f["test_spikes_per_neuron"] if spiking else None,
        "silent_fraction": f["test_silent_fraction"] if spiking else None,
        "epoch_time_s": float(np.mean([h["epoch_time_s"] for h in result.history])),
        "latency_s": inference_latency(
            model, test_images, device, config.latency_repeats
        ),
        "history": {
            k: [h[k] for h in result.history]
            for k in ("test_acc", "test_acc_aux", "train_loss")
        },
    }
    # How much the main head still gained in the last epoch: a variant still far
    # from converged at this budget shows it here.
    accs = row["history"]["test_acc"]
    row["test_acc_last_gain"] = accs[-1] - accs[-2] if len(accs) > 1 else None
    if spiking:
        spikes = f["test_spikes_per_neuron"] * n
        synops = spikes * _fan_out(model)
        row.update(
            spikes_per_inference=spikes,
            synaptic_ops_per_inference=synops,
            loihi_energy_j=synops * LOIHI_SYNOP_ENERGY,
        )
    if variant.block == "shno":
        e = _shno_energy(
            model,
            test_images,
            model_cfg.dt,
            config.geometry,
            device,
            train_cfg.eval_batch_size,
        )
        row["joule_energy_j"] = e
        row["joule_energy_per_spike_j"] = e / spikes if spikes > 0 else None
    raster = None
    if spiking and seed == config.seeds[0]:
        with torch.no_grad():
            model.eval()
            raster = model(raster_images.to(device)).spikes.detach().cpu()
    return row, model, raster


def _warm_up(config: CompareConfig) -> None:
    """One forward and backward pass of each kind of block before any run is timed.

    The fused SHNO kernels are compiled (numba) on first use; without this the
    compile time would land in the first SHNO run's first epoch.
    """
    device = resolve_device(config.train.device)
    for block in sorted({VARIANTS[n].block for n in config.variants}):
        model_cfg = dataclasses.replace(config.model, block=block, steps=2)
        model = build_model(model_cfg).to(device)
        x = torch.rand(2, 1, 28, 28, device=device)
        out = model(x)
        (out.logits.sum() + out.aux_logits.sum()).backward()


_SUMMARISED = (
    "test_acc",
    "test_acc_aux",
    "test_acc_last_gain",
    "spikes_per_neuron",
    "silent_fraction",
    "epoch_time_s",
    "latency_s",
    "spikes_per_inference",
    "synaptic_ops_per_inference",
    "loihi_energy_j",
    "joule_energy_j",
    "joule_energy_per_spike_j",
)


def compare(
    config: CompareConfig, out: str | Path, *, progress: bool = False
) -> dict[str, Any]:
    """Train every variant of ``config`` and write ``results.json``, report, figures.

    Args:
        config: budget, data and variants.
        out: output folder (created).
        progress: show the training loop's progress bars.

    Returns:
        The results dict written to ``out/results.json``.
    """
    t_start = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data = load_data(config.data)
    config = dataclasses.replace(
        config, model=dataclasses.replace(config.model, n_classes=len(data.classes))
    )
    # The rasters show the first test image of each class, the same for every model.
    labels = data.test.labels
    picks = [int(torch.nonzero(labels == c).flatten()[0]) for c in labels.unique()]
    raster_images = as_dataset(data.test).tensors[0][picks]

    _warm_up(config)
    variants: dict[str, Any] = {}
    rasters: dict[str, Tensor] = {}
    for variant in config.runs():
        runs, params, baseline = [], None, {}
        for seed in config.seeds:
            row, model, raster = _run_one(
                variant, seed, config, data, out, progress, raster_images
            )
            runs.append(row)
            if params is None:
                params = count_parameters(model)
                baseline = _baseline_parameters(model, variant.block)
            if raster is not None:
                rasters[variant.name] = raster
        variants[variant.name] = {
            "label": variant.label,
            "block": variant.block,
            "framework": variant.framework,
            "aux_loss": variant.aux_loss,
            "spiking": variant.block not in _NON_SPIKING,
            "raster_style": variant.raster_style,
            "params": params,
            "baseline_parameters": baseline,
            "runs": runs,
            "summary": {k: _stats([r.get(k) for r in runs]) for k in _SUMMARISED},
        }

    results = {
        "config": {
            "data": dataclasses.asdict(config.data),
            "model": dataclasses.asdict(config.model),
            "train": dataclasses.asdict(config.train),
            "seeds": list(config.seeds),
            "variants": list(config.variants),
            "no_aux": list(config.no_aux),
            "latency_repeats": config.latency_repeats,
        },
        "data": {
            "classes": list(data.classes),
            "n_train": len(data.train.labels),
            "n_test": len(data.test.labels),
            "raster_test_indices": picks,
        },
        "energy_model": {
            "geometry": dataclasses.asdict(config.geometry),
            "strip_volume_m3": config.geometry.volume,
            "strip_resistance_ohm": config.geometry.resistance,
            "dt_s": config.model.dt,
            "loihi_synop_energy_j": LOIHI_SYNOP_ENERGY,
            "loihi_reference": LOIHI_REFERENCE,
        },
        "environment": {
            "torch": torch.__version__,
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "device": str(resolve_device(config.train.device)),
        },
        "variants": variants,
    }
    results["wall_time_s"] = time.perf_counter() - t_start
    (out / "results.json").write_text(json.dumps(results, indent=2))
    figures = write_figures(results, rasters, out / "figures")
    (out / "report.md").write_text(
        write_report(results, [p.relative_to(out) for p in figures])
    )
    log.info("compare: wrote %s in %.1f s", out, results["wall_time_s"])
    return results


# -------------------------------------------------------------------- figures
def write_figures(
    results: dict[str, Any], rasters: dict[str, Tensor], out: str | Path
) -> list[Path]:
    """Accuracy curves, side-by-side rasters, accuracy bars and energy; their paths."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    from .plotting import raster

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    variants = results["variants"]
    written = []

    def save(fig, name: str) -> None:
        fig.tight_layout()
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        written.append(out / name)

    # Accuracy curves: mean +- std over seeds, per epoch, both heads.
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for i, v in enumerate(variants.values()):
        style = "-" if v["aux_loss"] else "--"
        for ax, key in zip(axes, ("test_acc", "test_acc_aux"), strict=True):
            curves = np.array([r["history"][key] for r in v["runs"]]) * 100
            epochs = np.arange(1, curves.shape[1] + 1)
            mean = curves.mean(0)
            ax.plot(epochs, mean, style, marker=".", color=f"C{i}", label=v["label"])
            if len(curves) > 1:
                std = curves.std(0, ddof=1)
                ax.fill_between(
                    epochs, mean - std, mean + std, color=f"C{i}", alpha=0.15
                )
    axes[0].set_title("Main (spiking) head")
    axes[1].set_title("Auxiliary head")
    for ax in axes:
        ax.set_xlabel("Epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("Test accuracy (%)")
    axes[1].legend(fontsize="x-small", loc="lower right")
    save(fig, "accuracy_curves.png")

    # Side-by-side rasters of the same test images, each in its framework's style.
    if rasters:
        n_img = next(iter(rasters.values())).shape[1]
        fig, axes = plt.subplots(
            n_img,
            len(rasters),
            figsize=(3.2 * len(rasters), 2.6 * n_img),
            squeeze=False,
        )
        classes = results["data"]["classes"]
        for col, (name, spikes) in enumerate(rasters.items()):
            v = variants[name]
            for row in range(n_img):
                ax = axes[row, col]
                raster(spikes, style=v["raster_style"], sample=row, ax=ax)
                if row == 0:
                    ax.set_title(
                        f"{v['label']}\n({v['raster_style']} raster)", fontsize=9
                    )
                if col == 0:
                    ax.set_ylabel(f"class {classes[row]}\nNeuron")
        save(fig, "rasters.png")

    # Accuracy bars: main, aux, main without aux loss.
    base = [n for n, v in variants.items() if v["aux_loss"]]
    fig, ax = plt.subplots(figsize=(1.6 + 1.6 * len(base), 3.8))
    width = 0.27
    for k, (label, get) in enumerate(
        [
            ("main head", lambda n: variants[n]["summary"]["test_acc"]),
            ("aux head", lambda n: variants[n]["summary"]["test_acc_aux"]),
            (
                "main head, no aux loss",
                lambda n: (
                    variants.get(f"{n}_noaux", {}).get("summary", {}).get("test_acc")
                ),
            ),
        ]
    ):
        stats = [get(n) for n in base]
        means = [
            100 * s["mean"] if s and s["mean"] is not None else np.nan for s in stats
        ]
        stds = [100 * s["std"] if s and s["std"] is not None else 0.0 for s in stats]
        ax.bar(
            np.arange(len(base)) + (k - 1) * width, means, width, yerr=stds, label=label
        )
    ax.set_xticks(
        np.arange(len(base)), [variants[n]["label"] for n in base], fontsize=8
    )
    ax.set_ylabel("Test accuracy (%)")
    ax.legend(fontsize="small", loc="lower right")
    save(fig, "accuracy.png")

    # Energy per inference (log scale).
    spiking = [n for n in base if variants[n]["spiking"]]
    if spiking:
        fig, ax = plt.subplots(figsize=(1.6 + 1.6 * len(spiking), 3.8))
        for k, (key, label) in enumerate(
            [
                ("loihi_energy_j", "spike delivery on Loihi (23.6 pJ/synaptic op)"),
                ("joule_energy_j", "SHNO layer, Joule heating"),
            ]
        ):
            vals = [variants[n]["summary"][key]["mean"] for n in spiking]
            vals = [1e12 * v if v else np.nan for v in vals]
            ax.bar(np.arange(len(spiking)) + (k - 0.5) * 0.4, vals, 0.4, label=label)
        ax.set_yscale("log")
        ax.set_xticks(
            np.arange(len(spiking)), [variants[n]["label"] for n in spiking], fontsize=8
        )
        ax.set_ylabel("Energy per inference (pJ)")
        ax.legend(fontsize="x-small")
        save(fig, "energy.png")
    return written


# -------------------------------------------------------------------- the report
def _num(x: float | None, digits: int, scale: float = 1.0) -> str:
    return "n/a" if x is None else f"{scale * x:.{digits}f}"


def _pm(s: dict[str, Any] | None, digits: int, scale: float = 1.0) -> str:
    """``mean ± std`` of a summary entry (``n/a`` where missing)."""
    if not s or s.get("mean") is None:
        return "n/a"
    if s.get("std") is None:
        return _num(s["mean"], digits, scale)
    return f"{_num(s['mean'], digits, scale)} ± {_num(s['std'], digits, scale)}"


def write_report(results: dict[str, Any], figures: Sequence[Path] = ()) -> str:
    """The Markdown report, every number taken from ``results`` (``results.json``)."""
    cfg, v_all = results["config"], results["variants"]
    base = {n: v for n, v in v_all.items() if v["aux_loss"]}
    em = results["energy_model"]
    g = em["geometry"]
    d = results["data"]
    lines = [
        "# SHNO vs LIF vs ANN: hybrid classifier comparison",
        "",
        f"Data: `{cfg['data']['dataset']}`, classes {d['classes']}, {d['n_train']} "
        f"training and {d['n_test']} test images (split seed "
        f"{cfg['data']['split_seed']}). Every variant: the same encoder and heads, "
        f"{cfg['model']['n_neurons']} neurons, {cfg['model']['steps']} steps, "
        f"{cfg['train']['epochs']} epochs, batch {cfg['train']['batch_size']}, "
        f"seeds {cfg['seeds']}; mean ± sample standard deviation over seeds. "
        f"Device: {results['environment']['device']}, "
        f"{results['environment']['torch_threads']} torch threads; total wall time "
        f"{results['wall_time_s']:.1f} s.",
        "",
        "## Accuracy",
        "",
        "Accuracy of the last epoch on the test set. The last column is the main "
        "head's gain over that last epoch: a variant still far from converged at this "
        "budget shows it there.",
        "",
        "| variant | main head (%) | aux head (%) | main head, trained without aux "
        "loss (%) | main head gain in the last epoch (points) |",
        "|---|---|---|---|---|",
    ]
    for name, v in base.items():
        noaux = v_all.get(f"{name}_noaux")
        lines.append(
            f"| `{name}` | {_pm(v['summary']['test_acc'], 2, 100)} | "
            f"{_pm(v['summary']['test_acc_aux'], 2, 100)} | "
            f"{_pm(noaux['summary']['test_acc'], 2, 100) if noaux else 'not run'} | "
            f"{_pm(v['summary']['test_acc_last_gain'], 2, 100)} |"
        )
    lines += [
        "",
        "## Activity, time and size",
        "",
        "Spikes per neuron per sample and silent neurons (no spike on the whole test "
        "set) are measured on the test set; `relu` has activations, not spikes. Time "
        "per epoch includes that epoch's test pass; latency is one image at a time "
        "(median).",
        "",
        "| variant | spikes per neuron per sample | silent neurons (%) | time per "
        "epoch (s) | latency per sample (ms) | parameters | in the spiking layer | "
        "outside it |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, v in v_all.items():
        s, p = v["summary"], v["params"]
        lines.append(
            f"| `{name}` | {_pm(s['spikes_per_neuron'], 3)} | "
            f"{_pm(s['silent_fraction'], 1, 100)} | {_pm(s['epoch_time_s'], 2)} | "
            f"{_pm(s['latency_s'], 3, 1e3)} | {p['total']} | {p['spiking_layer']} | "
            f"{p['outside']} |"
        )
    lines += [
        "",
        "## Energy per inference",
        "",
        f"SHNO layer: Joule heating of the heavy metal, `E = rho_HM J^2 (w t_HM l) "
        f"dt` summed over neurons and steps with the currents the trained model "
        f"drives on the test set. Assumed strip (not a measured device): "
        f"w = {g['width'] * 1e9:.0f} nm, l = {g['length'] * 1e9:.0f} nm, "
        f"t_HM = {g['thickness'] * 1e9:.0f} nm of Pt, rho_HM = "
        f"{g['resistivity']:.1e} Ohm m (R = {em['strip_resistance_ohm']:.1f} Ohm), "
        f"dt = {em['dt_s']:.1e} s per step. Digital LIF hardware: spikes x fan-out "
        f"(synaptic spike operations into the main head) x "
        f"{em['loihi_synop_energy_j'] * 1e12:.1f} pJ, the energy per synaptic spike "
        f"operation measured on Loihi ({em['loihi_reference']}). The two price "
        "different things (the device's own dissipation; delivering its spikes) and "
        "neither counts the encoder or the heads.",
        "",
        "| variant | spikes per inference | synaptic spike ops per inference | "
        "on Loihi (pJ) | SHNO Joule energy (pJ) | SHNO Joule energy per spike (pJ) |",
        "|---|---|---|---|---|---|",
    ]
    for name, v in v_all.items():
        if not v["spiking"]:
            continue
        s = v["summary"]
        lines.append(
            f"| `{name}` | {_pm(s['spikes_per_inference'], 1)} | "
            f"{_pm(s['synaptic_ops_per_inference'], 0)} | "
            f"{_pm(s['loihi_energy_j'], 1, 1e12)} | "
            f"{_pm(s['joule_energy_j'], 2, 1e12)} | "
            f"{_pm(s['joule_energy_per_spike_j'], 3, 1e12)} |"
        )
    lines += ["", "## Baseline LIF parameters (read from the trained models)", ""]
    for name, v in base.items():
        if v["baseline_parameters"]:
            items = ", ".join(
                f"{k} = {x:.4g}" if isinstance(x, float) else f"{k} = {x}"
                for k, x in v["baseline_parameters"].items()
            )
            lines.append(f"- `{name}`: {items}.")
    lines += [
        "",
        "snnTorch's tutorials train `Leaky` with beta = 0.95, threshold 1 and the "
        "arctangent surrogate; Norse's train `LIFCell` with its `LIFParameters` "
        "defaults and dt = 1 ms. Both are driven in units of their rheobase, as the "
        "SHNO is in units of j_c (`shno_neurons.adapters.baselines`).",
    ]
    if figures:
        lines += ["", "## Figures", ""]
        lines += [f"- [{Path(f).name}]({Path(f).as_posix()})" for f in figures]
    return "\n".join(lines) + "\n"


# -------------------------------------------------------------------- the CLI
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``shno-neurons compare`` (defaults in :class:`CompareConfig`)."""
    d, q = CompareConfig(), quick_config()
    parser.add_argument(
        "--out", default=None, help="output folder (default: runs/compare-DATE-TIME)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke-test budget: classes {','.join(q.data.classes)}, "
        f"{q.data.limit_per_class} images per class, {q.model.n_neurons} neurons, "
        f"{q.train.epochs} epoch(s), {len(q.seeds)} seeds",
    )
    parser.add_argument(
        "--config",
        default=None,
        help="JSON run configuration (a run's config.json) to use as the base "
        "data/model/train settings; the options below override it",
    )
    parser.add_argument(
        "--seeds", type=int, default=None, help=f"seeds 0..N-1 ({len(d.seeds)})"
    )
    parser.add_argument(
        "--epochs", type=int, default=None, help=f"epochs per run ({d.train.epochs})"
    )
    parser.add_argument(
        "--batch-size", type=int, default=None, help=f"batch ({d.train.batch_size})"
    )
    parser.add_argument(
        "--classes",
        default=None,
        help=f"comma-separated classes ({','.join(d.data.classes)})",
    )
    parser.add_argument(
        "--limit-per-class",
        type=int,
        default=None,
        help=f"images per class in each split ({d.data.limit_per_class}; 0: all)",
    )
    parser.add_argument(
        "--n-neurons", type=int, default=None, help=f"neurons ({d.model.n_neurons})"
    )
    parser.add_argument(
        "--steps", type=int, default=None, help=f"time steps ({d.model.steps})"
    )
    parser.add_argument(
        "--variants",
        default=None,
        help=f"comma-separated base variants (all: {','.join(VARIANTS)})",
    )
    parser.add_argument(
        "--no-aux",
        default=None,
        help="comma-separated variants also trained without the auxiliary loss "
        f"(default: {','.join(d.no_aux)}; 'none' for none)",
    )
    parser.add_argument("--device", default=None, help="torch device (auto)")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (0: default)"
    )
    parser.add_argument(
        "--latency-repeats",
        type=int,
        default=None,
        help=f"timed single passes ({d.latency_repeats})",
    )
    for name, unit in [
        ("width", "m"),
        ("length", "m"),
        ("thickness", "m"),
        ("resistivity", "Ohm m"),
    ]:
        default = getattr(d.geometry, name)
        parser.add_argument(
            f"--hm-{name}",
            type=float,
            default=None,
            help=f"heavy-metal strip {name} (Joule estimate), {unit} ({default:g})",
        )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="progress bars of each training run (default: off)",
    )


def _split(text: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in text.split(",") if s.strip())


def config_from_args(args: argparse.Namespace) -> CompareConfig:
    """The :class:`CompareConfig` described by parsed ``compare`` options."""
    config = quick_config() if args.quick else CompareConfig()
    if args.config:
        try:
            base = RunConfig.from_dict(json.loads(Path(args.config).read_text()))
        except (OSError, ValueError, TypeError) as err:
            raise ValueError(f"--config {args.config!r}: {err}") from err
        config.data, config.model = base.data, base.model
        config.train = dataclasses.replace(base.train, figures=False)
    data, model, train_cfg = {}, {}, {}
    if args.classes is not None:
        data["classes"] = _split(args.classes)
    if args.limit_per_class is not None:
        data["limit_per_class"] = args.limit_per_class
    if args.n_neurons is not None:
        model["n_neurons"] = args.n_neurons
    if args.steps is not None:
        model["steps"] = args.steps
    for key, value in [
        ("epochs", args.epochs),
        ("batch_size", args.batch_size),
        ("device", args.device),
        ("threads", args.threads),
    ]:
        if value is not None:
            train_cfg[key] = value
    geometry = {
        k: getattr(args, f"hm_{k}")
        for k in ("width", "length", "thickness", "resistivity")
        if getattr(args, f"hm_{k}") is not None
    }
    kw: dict[str, Any] = {
        "data": dataclasses.replace(config.data, **data),
        "model": dataclasses.replace(config.model, **model),
        "train": dataclasses.replace(config.train, **train_cfg),
        "geometry": dataclasses.replace(config.geometry, **geometry),
        "seeds": config.seeds,
        "variants": config.variants,
        "no_aux": config.no_aux,
        "latency_repeats": config.latency_repeats,
    }
    if args.seeds is not None:
        if args.seeds < 1:
            raise ValueError(f"--seeds {args.seeds} must be >= 1.")
        kw["seeds"] = tuple(range(args.seeds))
    if args.variants is not None:
        kw["variants"] = _split(args.variants)
        kw["no_aux"] = tuple(n for n in kw["no_aux"] if n in kw["variants"])
    if args.no_aux is not None:
        kw["no_aux"] = () if args.no_aux.strip() == "none" else _split(args.no_aux)
    if args.latency_repeats is not None:
        kw["latency_repeats"] = args.latency_repeats
    return CompareConfig(**kw)


def run(args: argparse.Namespace) -> int:
    """Run ``shno-neurons compare``; returns the exit code."""
    config = config_from_args(args)
    out = Path(args.out or time.strftime("runs/compare-%Y%m%d-%H%M%S"))
    results = compare(config, out, progress=args.progress)
    print(f"compare: wrote {out / 'report.md'} and {out / 'results.json'}")
    for name, v in results["variants"].items():
        s = v["summary"]
        print(
            f"  {name:22s} main {_pm(s['test_acc'], 2, 100):>16s} %  "
            f"aux {_pm(s['test_acc_aux'], 2, 100):>16s} %"
        )
    print(f"  total {results['wall_time_s']:.1f} s")
    return 0
