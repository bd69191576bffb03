"""SHNO against LIF without training: the same drive through each neuron, f-I curves.

A drive sequence ``x[t]`` is given in units of each neuron's threshold drive (its
*rheobase*: the smallest constant input that ever fires it), so one sequence means the
same thing to every model:

* the SHNO neuron (:func:`shno_neurons.functional.shno_step`) receives the current
  density ``j = x j_c s`` in A/m^2, with ``j_c`` the device's auto-oscillation threshold
  and ``s`` its drive sign;
* ``snntorch.Leaky`` receives ``x (1 - beta) U_thr``;
* Norse's ``LIFCell`` receives ``x (v_th - v_leak) dt tau_syn_inv``.

The rheobases and the baseline parameters are those of
:mod:`shno_neurons.adapters.baselines` (snnTorch tutorial ``beta = 0.95``, threshold 1;
Norse's :class:`~norse.torch.LIFParameters` defaults with ``dt = 1 ms``).

:func:`drive_responses` runs a sequence through the three neurons, :func:`fi_curves`
holds each of a set of constant drives for a number of steps and counts spikes (the
rate-vs-drive or f-I curve), :func:`plot_fi_curves` draws them on one axes and
:func:`fi_figure` makes the side-by-side figure (f-I curves, plus the responses to one
sequence). The SHNO rate has a physical unit (spikes per 0.1 ns step: GHz); Norse's
LIF has one through its 1 ms step; snnTorch's ``Leaky`` counts steps only. The curves
are therefore compared in spikes per step against drive in rheobases.

What the comparison shows on Set A (measured with :func:`fi_curves`, 200 steps, SHNO
threshold 0.5, 4 ps RK4 substeps): every model is silent below one rheobase. Above
it the LIF rates rise monotonically (Norse's ``LIFCell`` reaches one spike every other
step at 6 to 10 rheobases, ``Leaky`` 0.45 per step at 10). The SHNO fires only after
an onset delay that grows without bound as ``j`` approaches ``j_c`` (its growth rate
is proportional to ``j - j_c``: 1 spike in 200 steps at 1.1 ``j_c``), reaches about
0.26 spikes per 0.1 ns step (2.6 GHz) at 4 ``j_c`` and is irregular beyond: on a fine
grid it jumps to about 0.7 per step near 5 to 5.5 ``j_c``, locks at 0.25 from about
5.75 to 6.75 ``j_c`` and falls to 0.01 per step at 8 ``j_c``, as the large-angle orbit
of m changes shape and moves away from the readout threshold: the macrospin's own
nonlinearity (PHYSICS.md, operating point), which no LIF model has.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import Tensor

from .. import functional, presets
from ..parameters import SHNOParameters
from .baselines import NORSE_DT, leaky_rheobase, lif_rheobase
from .plotting import plot_readout

__all__ = [
    "Response",
    "FICurve",
    "drive_responses",
    "fi_curves",
    "plot_fi_curves",
    "fi_figure",
    "MODELS",
]

#: Model names, in plotting order.
MODELS = ("shno", "leaky", "lif")

_LABELS = {
    "shno": "SHNO (macrospin LLGS)",
    "leaky": "snnTorch Leaky",
    "lif": "Norse LIFCell",
}


class Response(NamedTuple):
    """One neuron model's response to a drive sequence.

    Attributes:
        spikes: spikes, shape ``[T, K]`` (0 or 1).
        trace: readout after each step, shape ``[T, K]``: ``m . a`` (dimensionless)
            for the SHNO, the membrane potential for the LIF models.
        threshold: firing threshold of ``trace``.
        rheobase: the drive unit in the model's own input units (A/m^2 for the SHNO,
            dimensionless for the LIF models).
        dt: network step, s; ``None`` for snnTorch's ``Leaky`` (no physical time).
    """

    spikes: Tensor
    trace: Tensor
    threshold: float
    rheobase: float
    dt: float | None


class FICurve(NamedTuple):
    """Firing rate against constant drive.

    Attributes:
        drive: constant drives, rheobases, shape ``[K]``.
        rate: spikes per step averaged over the window, shape ``[K]``.
        rate_hz: spikes per second, shape ``[K]``; ``None`` without a physical step.
        rheobase: the drive unit in the model's own input units.
    """

    drive: Tensor
    rate: Tensor
    rate_hz: Tensor | None
    rheobase: float


def _as_sequence(drive: Tensor | Sequence[float] | np.ndarray) -> Tensor:
    if isinstance(drive, Tensor):
        x = drive.detach().cpu().to(torch.float64)
    else:
        x = torch.as_tensor(np.asarray(drive, dtype=np.float64))
    if x.ndim == 1:
        x = x.unsqueeze(1)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(
            f"drive has shape {tuple(x.shape)}; expected [T] or [T, K] drives in "
            "rheobases (time first, K neurons driven in parallel)."
        )
    if not bool(torch.isfinite(x).all()):
        raise ValueError("drive has non-finite entries; pass finite rheobase units.")
    return x


def _shno(
    x: Tensor, p: SHNOParameters, neuron: functional.NeuronParameters, dt: float
) -> Response:
    j_c = p.threshold_current_density()
    j = x.to(torch.float32) * (j_c * p.drive_sign())
    m_rest = functional.rest_direction(p, neuron)
    state = functional.initial_state(j.shape[1:], p, neuron=neuron, m_rest=m_rest)
    spikes, trace = [], []
    with torch.no_grad():
        for t in range(j.shape[0]):
            s, state = functional.shno_step(j[t], state, p, dt, neuron, m_rest=m_rest)
            spikes.append(s)
            trace.append(functional.readout(state.m, p))
    threshold = float(neuron.threshold)
    return Response(torch.stack(spikes), torch.stack(trace), threshold, j_c, dt)


def _leaky(x: Tensor, beta: float, threshold: float) -> Response:
    import snntorch

    rheobase = leaky_rheobase(beta, threshold)
    neuron = snntorch.Leaky(beta=beta, threshold=threshold, reset_mechanism="subtract")
    inputs = x.to(torch.float32) * rheobase
    mem = torch.zeros_like(inputs[0])
    spikes, trace = [], []
    with torch.no_grad():
        for t in range(inputs.shape[0]):
            spk, mem = neuron(inputs[t], mem)
            spikes.append(spk)
            trace.append(mem)
    return Response(torch.stack(spikes), torch.stack(trace), threshold, rheobase, None)


def _lif(x: Tensor, threshold: float) -> Response:
    from norse.torch import LIFCell, LIFParameters

    p = LIFParameters(v_th=torch.as_tensor(threshold))
    rheobase = lif_rheobase(p, NORSE_DT)
    cell = LIFCell(p, dt=NORSE_DT)
    inputs = x.to(torch.float32) * rheobase
    state = None
    spikes, trace = [], []
    with torch.no_grad():
        for t in range(inputs.shape[0]):
            z, state = cell(inputs[t], state)
            spikes.append(z)
            trace.append(state.v.expand_as(z))
    return Response(
        torch.stack(spikes), torch.stack(trace), threshold, rheobase, NORSE_DT
    )


def drive_responses(
    drive: Tensor | Sequence[float] | np.ndarray,
    *,
    p: SHNOParameters = presets.NIFE_PT,
    neuron: functional.NeuronParameters | None = None,
    dt: float = 1e-10,
    beta: float = 0.95,
    lif_threshold: float = 1.0,
    models: Sequence[str] = MODELS,
) -> dict[str, Response]:
    """Run one drive sequence through the SHNO and LIF neurons.

    Args:
        drive: drive in rheobases, ``[T]`` (one neuron) or ``[T, K]`` (``K``
            neurons driven in parallel); held constant over each step.
        p: SHNO device (default Set A); its ``j_c`` is the SHNO's rheobase.
        neuron: SHNO spike rule; default threshold 0.5, subtractive reset, 4 ps RK4
            substeps (the classifier's settings).
        dt: SHNO network step, s.
        beta: ``snntorch.Leaky`` decay per step (snnTorch tutorials: 0.95).
        lif_threshold: threshold of both LIF models (the frameworks' default: 1).
        models: which of ``"shno"``, ``"leaky"``, ``"lif"`` to run.

    Returns:
        ``{name: Response}`` for each model in ``models``.

    Raises:
        ValueError: a drive of the wrong shape or with non-finite entries, an unknown
            model name, or ``beta`` outside (0, 1).
    """
    x = _as_sequence(drive)
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise ValueError(f"models {unknown} are not among {list(MODELS)}.")
    if not 0.0 < beta < 1.0:
        raise ValueError(f"beta = {beta!r} must lie in (0, 1); snnTorch uses 0.95.")
    if not (math.isfinite(lif_threshold) and lif_threshold > 0):
        raise ValueError(f"lif_threshold = {lif_threshold!r} must be positive.")
    if neuron is None:
        neuron = functional.NeuronParameters(threshold=0.5, dt_sub=4e-12)
    runners = {
        "shno": lambda: _shno(x, p, neuron, dt),
        "leaky": lambda: _leaky(x, beta, lif_threshold),
        "lif": lambda: _lif(x, lif_threshold),
    }
    return {name: runners[name]() for name in models}


def fi_curves(
    drives: Tensor | Sequence[float] | np.ndarray,
    steps: int = 200,
    **kwargs,
) -> dict[str, FICurve]:
    """Spike rate against constant drive for each model.

    Args:
        drives: constant drives to test, rheobases, shape ``[K]``; all ``K`` run in
            parallel.
        steps: steps each drive is held; the rate is the spike count over ``steps``.
        **kwargs: passed to :func:`drive_responses` (``p``, ``neuron``, ``dt``,
            ``beta``, ``lif_threshold``, ``models``).

    Returns:
        ``{name: FICurve}``.
    """
    d = _as_sequence(drives)
    if d.shape[1] != 1:
        raise ValueError(f"drives must be 1-D ([K]), got shape {tuple(d.shape)}.")
    if not (isinstance(steps, int) and steps >= 1):
        raise ValueError(f"steps = {steps!r} must be a positive integer.")
    levels = d[:, 0]
    responses = drive_responses(levels.expand(steps, -1), **kwargs)
    curves = {}
    for name, r in responses.items():
        rate = r.spikes.sum(0).to(torch.float64) / steps
        rate_hz = rate / r.dt if r.dt is not None else None
        curves[name] = FICurve(levels, rate, rate_hz, r.rheobase)
    return curves


def plot_fi_curves(
    curves: dict[str, FICurve], *, ax: Axes | None = None, title: str | None = None
) -> Axes:
    """All f-I curves on one axes: spikes per step against drive in rheobases.

    Args:
        curves: the result of :func:`fi_curves`.
        ax: axes to draw on; the current axes when ``None``.
        title: optional title.

    Returns:
        The axes drawn on; the rheobase is marked by a dotted vertical line at 1.
    """
    ax = ax if ax is not None else plt.gca()
    markers = {"shno": "o-", "leaky": "s--", "lif": "^-."}
    for name, c in curves.items():
        ax.plot(
            c.drive.numpy(),
            c.rate.numpy(),
            markers.get(name, "x-"),
            ms=4,
            label=_LABELS.get(name, name),
        )
    ax.axvline(1.0, color="k", linestyle=":", lw=1.0, label="rheobase")
    ax.set_xlabel("Drive (rheobases: $j_c$ for the SHNO)")
    ax.set_ylabel("Rate (spikes per step)")
    if title is not None:
        ax.set_title(title)
    ax.legend(loc="best", fontsize="small")
    return ax


def fi_figure(
    curves: dict[str, FICurve],
    responses: dict[str, Response] | None = None,
    *,
    neurons: Sequence[int] = (0,),
) -> Figure:
    """Side-by-side figure: the f-I curves and, optionally, each model's trace.

    Args:
        curves: the result of :func:`fi_curves`.
        responses: the result of :func:`drive_responses` for one sequence; one panel
            per model with its readout, threshold and spikes.
        neurons: which driven neurons of ``responses`` to draw.

    Returns:
        The figure (not shown; save it or display it as you like).
    """
    n_resp = len(responses) if responses else 0
    fig, axes = plt.subplots(1, 1 + n_resp, figsize=(4.5 * (1 + n_resp), 3.6))
    axes = np.atleast_1d(axes)
    plot_fi_curves(curves, ax=axes[0], title="Rate against drive")
    for ax, (name, r) in zip(axes[1:], (responses or {}).items(), strict=True):
        plot_readout(
            r.trace,
            threshold=r.threshold,
            spikes=r.spikes,
            dt=r.dt,
            neurons=list(neurons),
            ax=ax,
            title=_LABELS.get(name, name),
        )
        if name != "shno":
            ax.set_ylabel("Membrane potential")
    fig.tight_layout()
    return fig
