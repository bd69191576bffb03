"""Figures of a training run: what the classifier learned and what its SHNO layer does.

Each ``plot_*`` function takes ``ax=None``, draws on that axes (pyplot's current axes
when ``None``), returns it and moves tensors to the CPU first; the spike raster and the
readout traces go through :mod:`shno_neurons.adapters.plotting` (snnTorch's and Norse's
own raster functions). :func:`write_run_figures` writes the PNG set of a run directory
(the command line selects matplotlib's Agg backend; a notebook keeps its own):

=====================  ===========================================================
``raster.png``         spikes of the SHNO layer for a few test images
``readout.png``        ``m_y`` of the most active neurons at substep resolution,
                       with the threshold, the spikes and the per-step samples
``curves.png``         accuracy and loss of both heads per epoch (train and test)
``confusion.png``      confusion matrix of the main head on the test set
``per_class.png``      per-class test accuracy of both heads
``spike_counts.png``   distribution of spikes per neuron per sample, by class
``physical.png``       learned scale and bias (units of ``j_c``), mean drive per
                       neuron against ``j_c`` and the device limit, device spread
=====================  ===========================================================
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from torch import Tensor

from .. import functional, llgs
from . import plotting

__all__ = [
    "plot_accuracy",
    "plot_loss",
    "plot_confusion",
    "plot_per_class",
    "plot_spike_counts",
    "plot_mapping",
    "plot_drive",
    "fine_readout",
    "write_run_figures",
]

log = logging.getLogger(__name__)


def _series(history: Sequence[dict[str, float]], key: str) -> np.ndarray:
    return np.array([row[key] for row in history], dtype=np.float64)


def plot_accuracy(history: Sequence[dict[str, float]], ax: Axes | None = None) -> Axes:
    """Train and test accuracy of the main and auxiliary heads per epoch."""
    ax = ax if ax is not None else plt.gca()
    epochs = _series(history, "epoch")
    for key, label, style in [
        ("train_acc", "main, train", "C0--"),
        ("test_acc", "main, test", "C0-"),
        ("train_acc_aux", "aux, train", "C1--"),
        ("test_acc_aux", "aux, test", "C1-"),
    ]:
        ax.plot(epochs, 100 * _series(history, key), style, marker=".", label=label)
    ax.set_xlabel("Epoch")
    ax.set_ylabel("Accuracy (%)")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return ax


def plot_loss(history: Sequence[dict[str, float]], ax: Axes | None = None) -> Axes:
    """Cross-entropy of both heads per epoch (train and test), log scale."""
    ax = ax if ax is not None else plt.gca()
    epochs = _series(history, "epoch")
    for key, label, style in [
        ("train_loss_main", "main, train", "C0--"),
        ("test_loss", "main, test", "C0-"),
        ("train_loss_aux", "aux, train", "C1--"),
        ("test_loss_aux", "aux, test", "C1-"),
    ]:
        ax.plot(epochs, _series(history, key), style, marker=".", label=label)
    ax.set_yscale("log")
    ax.set_xlabel("Epoch")
    ax.set_ylabel("Cross-entropy")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return ax


def plot_confusion(
    confusion: Tensor | np.ndarray, classes: Sequence[str], ax: Axes | None = None
) -> Axes:
    """Confusion matrix (rows: true class, columns: predicted), counts annotated."""
    ax = ax if ax is not None else plt.gca()
    cm = torch.as_tensor(confusion).detach().cpu().numpy()
    ax.imshow(cm, cmap="Blues")
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            color = "white" if cm[i, j] > 0.5 * cm.max() else "black"
            ax.text(j, i, str(int(cm[i, j])), ha="center", va="center", color=color)
    ax.set_xticks(range(len(classes)), classes)
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("Predicted")
    ax.set_ylabel("True")
    return ax


def plot_per_class(
    labels: Tensor,
    pred: Tensor,
    pred_aux: Tensor,
    classes: Sequence[str],
    ax: Axes | None = None,
) -> Axes:
    """Per-class test accuracy of the main and auxiliary heads (bars)."""
    ax = ax if ax is not None else plt.gca()
    labels, pred, pred_aux = (t.detach().cpu() for t in (labels, pred, pred_aux))
    k = len(classes)
    main = [float((pred[labels == c] == c).float().mean()) for c in range(k)]
    aux = [float((pred_aux[labels == c] == c).float().mean()) for c in range(k)]
    x = np.arange(k)
    ax.bar(x - 0.2, 100 * np.array(main), 0.4, label="main (spikes)")
    ax.bar(x + 0.2, 100 * np.array(aux), 0.4, label="aux (final m_y)")
    ax.set_xticks(x, classes)
    ax.set_ylim(min(90.0, 100 * min(main + aux) - 2), 100.5)
    ax.set_xlabel("Class")
    ax.set_ylabel("Test accuracy (%)")
    ax.legend(fontsize="small", loc="lower right")
    return ax


def plot_spike_counts(
    spikes: Tensor, labels: Tensor, classes: Sequence[str], ax: Axes | None = None
) -> Axes:
    """Histogram of spikes per neuron per sample for each class.

    Args:
        spikes: spikes per neuron summed over time, shape ``[N, n]``.
        labels: class of each sample, shape ``[N]``.
        classes: class names.
        ax: axes to draw on.
    """
    ax = ax if ax is not None else plt.gca()
    per_sample = spikes.detach().cpu().float().mean(1).numpy()
    labels = labels.detach().cpu().numpy()
    bins = np.linspace(0.0, max(per_sample.max(), 1e-3) * 1.05, 30)
    for c, name in enumerate(classes):
        ax.hist(per_sample[labels == c], bins=bins, histtype="step", lw=1.5, label=name)
    ax.set_xlabel("Spikes per neuron per sample")
    ax.set_ylabel("Test samples")
    ax.legend(title="class", fontsize="small")
    return ax


def plot_mapping(scale: Tensor, bias: Tensor, ax: Axes | None = None) -> Axes:
    """Learned per-neuron scale and bias of the current mapping, units of ``j_c``."""
    ax = ax if ax is not None else plt.gca()
    idx = np.arange(len(scale))
    ax.plot(idx, scale.detach().cpu().numpy(), "o", ms=3, label="scale (j_c / feature)")
    ax.plot(idx, bias.detach().cpu().numpy(), "s", ms=3, label="bias (j_c)")
    ax.set_xlabel("Neuron")
    ax.set_ylabel("Units of j_c")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return ax


def plot_drive(
    j_mean: Tensor,
    j_c: float,
    j_max: float,
    j_std: Tensor | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Mean current density per neuron over the test set, A/m^2, with ``j_c``."""
    ax = ax if ax is not None else plt.gca()
    idx = np.arange(len(j_mean))
    yerr = None if j_std is None else j_std.detach().cpu().numpy()
    ax.errorbar(idx, j_mean.detach().cpu().numpy(), yerr=yerr, fmt="o", ms=3, lw=0.8)
    ax.axhline(j_c, color="C3", ls="--", label=f"j_c = {j_c:.3g} A/m^2")
    ax.axhline(j_max, color="k", ls=":", label=f"device limit {j_max:.3g} A/m^2")
    low = j_mean - (j_std if j_std is not None else 0.0)
    if bool((low < 0).any()):
        ax.axhline(-j_max, color="k", ls=":")
    ax.set_xlabel("Neuron")
    ax.set_ylabel("Current density (A/m^2)")
    ax.legend(fontsize="small")
    return ax


@torch.no_grad()
def fine_readout(
    block: Any, features: Tensor, neurons: Sequence[int]
) -> tuple[Tensor, Tensor, Tensor]:
    """Readout of chosen SHNO neurons at substep resolution, for one sample.

    Replays the block's physics for ``features`` (one sample, shape ``[n]``): each
    network step is integrated with :func:`shno_neurons.llgs.simulate` from the state
    the neuron has at the start of the step (recording every substep), then advanced
    with :func:`shno_neurons.functional.shno_step` (spike and reset), exactly as the
    block does. Between resets the recorded path is the block's own trajectory.

    Args:
        block: an SHNO block with ``mapping``, ``p``, ``neuron_params``, ``dt``,
            ``steps`` and ``m_rest`` (:class:`~shno_neurons.adapters.models.SHNOBlock`).
        features: features of one sample, shape ``[n]``.
        neurons: indices of the neurons to replay.

    Returns:
        ``(t, readout, spikes)``: times, s, ``[R]``; readout ``[R, k]``; spikes on the
        same grid ``[R, k]`` (marked at the end of the step that fired).
    """
    idx = torch.as_tensor(list(neurons), dtype=torch.long)
    p = block.p
    nrn = block.neuron_params
    feats = features.detach().to(torch.float64).cpu().unsqueeze(0)
    # Per-neuron parameters of the chosen neurons only.
    p_sel = _select_neurons(p, idx)
    m_rest = block.m_rest.detach().to(torch.float64).cpu()
    if m_rest.ndim == 2:
        m_rest = m_rest[idx]
    state = functional.initial_state(
        (1, len(idx)), p_sel, torch.float64, "cpu", nrn, m_rest=m_rest
    )
    method = llgs.resolve_method(nrn.method, p_sel)
    n_sub = max(1, round(block.dt / nrn.dt_sub))
    times, trace, marks = [0.0], [functional.readout(state.m, p_sel)[0]], []
    marks.append(torch.zeros(len(idx), dtype=torch.float64))
    for k in range(block.steps):
        j = block.mapping(feats.to(block.mapping.scale.dtype), k)[:, idx].double()
        t, traj = llgs.simulate(
            state.m, j, p_sel, block.dt, block.dt / n_sub, 1, method
        )
        r = functional.readout(traj[1:], p_sel)[:, 0]
        s, state = functional.shno_step(j, state, p_sel, block.dt, nrn, m_rest=m_rest)
        times += (k * block.dt + t[1:]).tolist()
        trace += list(r)
        step_marks = torch.zeros_like(r)
        step_marks[-1] = s[0].double()
        marks += list(step_marks)
    return (
        torch.tensor(times),
        torch.stack(trace),
        torch.stack(marks),
    )


def _select_neurons(p: Any, idx: Tensor) -> Any:
    """Parameters of the neurons ``idx`` (per-neuron tensors indexed, rest kept)."""
    changes = {}
    for name in ("ms", "alpha", "t_fm", "theta_sh", "beta_fl", "h_k"):
        value = getattr(p, name)
        if isinstance(value, Tensor) and value.ndim >= 1 and value.numel() > 1:
            changes[name] = value.detach().double().cpu()[idx]
    return p.replace(**changes) if changes else p


def _save(fig: plt.Figure, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


@torch.no_grad()
def write_run_figures(
    model: torch.nn.Module,
    data: Any,
    history: Sequence[dict[str, float]],
    out: str | Path,
    config: Any,
    device: torch.device | str = "cpu",
) -> list[Path]:
    """Write the run's PNG figures (module docstring) into ``out``; return their paths.

    Args:
        model: the trained :class:`~shno_neurons.adapters.models.HybridClassifier`.
        data: the run's :class:`~shno_neurons.adapters.data.DataSplit`.
        history: per-epoch metrics rows.
        out: folder for the PNG files (created).
        config: the run's :class:`~shno_neurons.adapters.training.RunConfig`.
        device: where the model lives.
    """
    from .data import as_dataset
    from .training import evaluate

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.eval()
    classes = list(data.classes)
    test = as_dataset(data.test)
    ev = evaluate(model, test, config.train.eval_batch_size, device)
    mc = config.model
    threshold = mc.threshold if mc.block == "shno" else mc.lif_threshold
    written = []

    # One example image per class (first of each), up to figure_samples.
    labels = data.test.labels
    picks = []
    for c in range(len(classes)):
        hits = torch.nonzero(labels == c).flatten()
        if len(hits):
            picks.append(int(hits[0]))
    picks = picks[: max(1, config.train.figure_samples)]
    x = test.tensors[0][picks].to(device)
    o = model(x)
    spikes, trace = o.spikes.cpu(), o.trace.cpu()

    # --- raster ---
    style = mc.framework if mc.block == "shno" else "snntorch"
    fig, axes = plt.subplots(1, len(picks), figsize=(3.2 * len(picks), 3.2))
    axes = np.atleast_1d(axes)
    for i, ax in enumerate(axes):
        plotting.raster(
            spikes,
            style=style,
            sample=i,
            ax=ax,
            title=f"class {classes[labels[picks[i]]]}",
        )
    fig.suptitle(f"{mc.block} layer spikes ({style} raster), {mc.steps} steps")
    _save(fig, out / "raster.png")
    written.append(out / "raster.png")

    # --- readout traces of the most active neurons of the first example ---
    active = spikes[:, 0].sum(0).argsort(descending=True)[:3].tolist()
    fig, ax = plt.subplots(figsize=(8, 3.5))
    block = model.block
    if mc.block == "shno":
        feats = model.encoder(x[:1])[0]
        t, r, s = fine_readout(block, feats, active)
        plotting.plot_readout(
            r, threshold=threshold, spikes=s, t=t, neurons=range(len(active)), ax=ax
        )
        # plot_readout names the lines by column; give them the layer's indices.
        handles, labels = ax.get_legend_handles_labels()
        names = {f"neuron {i}": f"neuron {n}" for i, n in enumerate(active)}
        ax.legend(handles, [names.get(t, t) for t in labels], fontsize="small")
        step_t = (np.arange(mc.steps) + 1) * mc.dt * 1e9
        for i, n in enumerate(active):
            ax.plot(step_t, trace[:, 0, n].numpy(), "o", ms=3, color=f"C{i}")
        ax.set_ylabel("Readout m_y")
        ax.set_title(
            f"m_y of neurons {active} (lines: substeps; dots: end of each step)"
        )
    else:
        plotting.plot_readout(
            trace,
            threshold=threshold,
            spikes=spikes,
            dt=mc.dt,
            sample=0,
            neurons=active,
            ax=ax,
            title=f"{mc.block} trace of neurons {active}",
        )
    _save(fig, out / "readout.png")
    written.append(out / "readout.png")

    # --- curves ---
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8))
    plot_accuracy(history, a1)
    plot_loss(history, a2)
    _save(fig, out / "curves.png")
    written.append(out / "curves.png")

    # --- confusion ---
    fig, ax = plt.subplots(figsize=(1.0 + 0.8 * len(classes),) * 2)
    plot_confusion(ev.confusion(len(classes)), classes, ax)
    ax.set_title("Main head, test set")
    _save(fig, out / "confusion.png")
    written.append(out / "confusion.png")

    # --- per class ---
    fig, ax = plt.subplots(figsize=(1.5 + 0.9 * len(classes), 3.5))
    plot_per_class(ev.labels, ev.pred, ev.pred_aux, classes, ax)
    _save(fig, out / "per_class.png")
    written.append(out / "per_class.png")

    # --- spike counts ---
    fig, ax = plt.subplots(figsize=(6, 3.8))
    plot_spike_counts(ev.spikes, ev.labels, classes, ax)
    ax.set_title(f"mean {float(ev.spikes.mean()):.2f} spikes per neuron per sample")
    _save(fig, out / "spike_counts.png")
    written.append(out / "spike_counts.png")

    # --- physical parameters ---
    if mc.block == "shno":
        written.append(_physical_figure(model, test, out, config, device))
    log.info("wrote %d figures to %s", len(written), out)
    return written


def _physical_figure(
    model: torch.nn.Module, test: Any, out: Path, config: Any, device: Any
) -> Path:
    mapping = model.block.mapping
    xs = test.tensors[0][: min(len(test), 1000)].to(device)
    feats = model.encoder(xs)
    j = torch.stack([mapping(feats, t) for t in range(config.model.steps)])
    j = j.mean(0).cpu()
    p = model.block.p
    spread = {
        k: getattr(p, k)
        for k in ("ms", "alpha", "theta_sh", "h_k")
        if isinstance(getattr(p, k), Tensor)
        and getattr(p, k).numel() > 1
        and bool((getattr(p, k) != 0).any())
    }
    ncols = 3 if spread else 2
    fig, axes = plt.subplots(1, ncols, figsize=(5 * ncols, 3.8))
    plot_mapping(mapping.scale, mapping.bias, axes[0])
    axes[0].set_title("Current mapping (learned)")
    plot_drive(j.mean(0), mapping.j_c, mapping.j_max, j.std(0), axes[1])
    axes[1].set_title("Drive current per neuron (test mean +- std)")
    if spread:
        nominal = config.model.preset
        for name, v in spread.items():
            v = v.detach().cpu().double()
            axes[2].plot(v / v.mean(), ".", label=name)
        axes[2].set_xlabel("Neuron")
        axes[2].set_ylabel("Relative to layer mean")
        axes[2].set_title(f"Device spread ({nominal})")
        axes[2].legend(fontsize="small")
    _save(fig, out / "physical.png")
    return out / "physical.png"
