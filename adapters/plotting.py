"""Plots of spikes and magnetization, drawn through snnTorch's and Norse's own helpers.

Spike rasters go through the host frameworks' plotting functions, so a figure looks the
way users of each framework expect:

* :func:`raster_snntorch` calls :func:`snntorch.spikeplot.raster` (a scatter of spike
  times against neuron index);
* :func:`raster_norse` calls :func:`norse.torch.utils.plot.plot.plot_spikes_2d` (a
  black-and-white image, time on the x axis, neuron on the y axis).

Both accept the shapes the neurons in this package produce: ``[T]`` (one neuron),
``[T, N]`` and ``[T, B, *S]`` (a batch; ``sample`` picks one, trailing dimensions are
flattened into the neuron index), on any device and with or without grad.

The magnetization views are plain matplotlib, since neither framework has a model with
a magnetization: :func:`plot_readout` (readout traces with the threshold and the spike
marks), :func:`plot_trajectory` (m on the unit sphere, 3-D) and :func:`plot_sweep`
(oscillation frequency and amplitude against current density, threshold marked).

Every function takes ``ax=None``, draws on that axes (the current axes when ``None``),
returns it and never calls ``plt.show()``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from torch import Tensor

__all__ = [
    "spike_matrix",
    "raster",
    "raster_snntorch",
    "raster_norse",
    "plot_readout",
    "plot_trajectory",
    "plot_sweep",
]

ArrayLike = Tensor | np.ndarray | Sequence[float]


def _as_cpu_tensor(x: ArrayLike, name: str) -> Tensor:
    """``x`` as a detached CPU tensor (tensors on any device, arrays and lists)."""
    if isinstance(x, Tensor):
        return x.detach().cpu()
    try:
        return torch.as_tensor(np.asarray(x))
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"{name} must be a tensor or an array-like of numbers, got "
            f"{type(x).__name__}."
        ) from err


def _select(x: Tensor, sample: int, name: str, what: str = "spikes") -> Tensor:
    """Reduce ``[T]``, ``[T, N]`` or ``[T, B, *S]`` to ``[T, N]`` (CPU tensor)."""
    if x.ndim == 0:
        raise ValueError(
            f"{name} is a scalar; expected {what} of shape [T], [T, N] or "
            "[T, B, N] (time first)."
        )
    if x.ndim == 1:
        return x.unsqueeze(1)
    if x.ndim == 2:
        return x
    batch = x.shape[1]
    if not -batch <= sample < batch:
        raise ValueError(
            f"sample = {sample} is out of range for {name} of shape "
            f"{tuple(x.shape)} (batch size {batch}); pick 0 <= sample < {batch}."
        )
    return x[:, sample].reshape(x.shape[0], -1)


def spike_matrix(spikes: ArrayLike, sample: int = 0) -> Tensor:
    """Spikes as a ``[T, N]`` CPU tensor with no grad, ready for a raster.

    Args:
        spikes: ``[T]``, ``[T, N]`` or ``[T, B, *S]`` (time first), any device.
        sample: batch index for inputs with a batch dimension.

    Returns:
        ``[T, N]`` tensor on the CPU; trailing dimensions ``S`` are flattened into
        ``N``.

    Raises:
        ValueError: a scalar input, or ``sample`` outside the batch.
    """
    return _select(_as_cpu_tensor(spikes, "spikes"), sample, "spikes")


def _label(ax: Axes, xlabel: str, ylabel: str, title: str | None) -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)


def raster_snntorch(
    spikes: ArrayLike,
    *,
    sample: int = 0,
    ax: Axes | None = None,
    title: str | None = None,
    **scatter_kwargs: Any,
) -> Axes:
    """Spike raster through :func:`snntorch.spikeplot.raster`.

    Args:
        spikes: ``[T]``, ``[T, N]`` or ``[T, B, *S]`` spikes (nonzero = spike).
        sample: batch index when ``spikes`` has a batch dimension.
        ax: axes to draw on; the current axes when ``None``.
        title: optional title.
        **scatter_kwargs: passed to ``ax.scatter`` through snnTorch (default
            ``s=1.5, c="black"`` as in snnTorch's tutorials).

    Returns:
        The axes drawn on: x = time step, y = neuron index.
    """
    # snnTorch's plotting module imports pandas at import time.
    import snntorch.spikeplot as splt

    data = spike_matrix(spikes, sample)
    ax = ax if ax is not None else plt.gca()
    scatter_kwargs.setdefault("s", 1.5)
    scatter_kwargs.setdefault("c", "black")
    splt.raster(data, ax, **scatter_kwargs)
    ax.set_xlim(-0.5, data.shape[0] - 0.5)
    ax.set_ylim(-0.5, data.shape[1] - 0.5)
    _label(ax, "Time step", "Neuron number", title)
    return ax


def raster_norse(
    spikes: ArrayLike,
    *,
    sample: int = 0,
    ax: Axes | None = None,
    title: str | None = None,
    **imshow_kwargs: Any,
) -> Axes:
    """Spike raster through Norse's :func:`~norse.torch.utils.plot.plot.plot_spikes_2d`.

    Args:
        spikes: ``[T]``, ``[T, N]`` or ``[T, B, *S]`` spikes.
        sample: batch index when ``spikes`` has a batch dimension.
        ax: axes to draw on; the current axes when ``None``.
        title: optional title.
        **imshow_kwargs: passed to ``imshow`` through Norse (default ``cmap="binary"``).

    Returns:
        The axes drawn on: x = time step, y = neuron index.
    """
    from norse.torch.utils.plot.plot import plot_spikes_2d

    # A NumPy array, not a tensor: matplotlib's imshow copies its input with
    # ``np.array(copy=...)``, which torch's ``__array__`` answers with a
    # DeprecationWarning under NumPy 2.
    data = spike_matrix(spikes, sample).to(torch.float32).numpy()
    ax = ax if ax is not None else plt.gca()
    # Norse 1.1's plot_heatmap_2d draws with plt.imshow, i.e. on pyplot's current
    # axes, whatever axes it was given. Make ``ax`` current for the call and restore
    # the caller's current axes after. Drop this once Norse draws on ``axes``.
    previous = plt.gca() if plt.get_fignums() and plt.gcf().axes else None
    plt.sca(ax)
    try:
        plot_spikes_2d(data, axes=ax, **imshow_kwargs)
    finally:
        if previous is not None and previous is not ax:
            plt.sca(previous)
    ax.invert_yaxis()  # imshow puts neuron 0 on top; match the snnTorch raster.
    _label(ax, "Time step", "Neuron number", title)
    return ax


def raster(
    spikes: ArrayLike,
    *,
    style: Literal["snntorch", "norse"] = "snntorch",
    sample: int = 0,
    ax: Axes | None = None,
    title: str | None = None,
    **kwargs: Any,
) -> Axes:
    """Spike raster in the style of ``style`` (``"snntorch"`` or ``"norse"``).

    Dispatches to :func:`raster_snntorch` or :func:`raster_norse`; see those for the
    arguments.
    """
    if style == "snntorch":
        return raster_snntorch(spikes, sample=sample, ax=ax, title=title, **kwargs)
    if style == "norse":
        return raster_norse(spikes, sample=sample, ax=ax, title=title, **kwargs)
    raise ValueError(f"style = {style!r} is not one of 'snntorch', 'norse'.")


_TIME_UNITS = ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns"), (1e-12, "ps"))


def _seconds_to_axis(times: np.ndarray) -> tuple[np.ndarray, str]:
    """Times in s to the largest unit (s, ms, µs, ns, ps) in which the span is >= 1."""
    span = float(np.nanmax(np.abs(times))) if times.size else 0.0
    for scale, unit in _TIME_UNITS:
        if span >= scale:
            return times / scale, f"Time ({unit})"
    return times / 1e-12, "Time (ps)"


def _time_axis(n: int, t: ArrayLike | None, dt: float | None) -> tuple[np.ndarray, str]:
    """x values and label: ``t`` or ``dt`` (s) in a readable unit, else step numbers."""
    if t is not None and dt is not None:
        raise ValueError("give either t (times, s) or dt (step, s), not both.")
    if t is not None:
        times = _as_cpu_tensor(t, "t").to(torch.float64).numpy().reshape(-1)
        if times.shape[0] != n:
            raise ValueError(
                f"t has {times.shape[0]} entries but the trace has {n} time steps; "
                "pass one time (s) per row of the trace."
            )
        return _seconds_to_axis(times)
    if dt is not None:
        if not (dt > 0 and np.isfinite(dt)):
            raise ValueError(f"dt = {dt!r} s must be a positive finite number.")
        # Entry k of a network trace is the state at the end of step k.
        return _seconds_to_axis((np.arange(n) + 1) * dt)
    return np.arange(n, dtype=np.float64), "Time step"


def plot_readout(
    trace: ArrayLike,
    *,
    threshold: float | Tensor,
    spikes: ArrayLike | None = None,
    t: ArrayLike | None = None,
    dt: float | None = None,
    sample: int = 0,
    neurons: Sequence[int] | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Readout traces over time with the firing threshold and the spikes marked.

    Args:
        trace: readout (e.g. ``m_y``, dimensionless), ``[T]``, ``[T, N]`` or
            ``[T, B, *S]``; a network's per-step trace or a ``simulate`` readout.
        threshold: firing threshold, same units as ``trace``; drawn as a dashed line.
        spikes: optional spikes of the same shape as ``trace``; each spike is marked
            by a triangle on the threshold line at its time step, in its trace's colour.
        t: optional times of the rows of ``trace``, s (plotted in the largest of s,
            ms, µs, ns, ps in which the span is at least 1).
        dt: optional network step, s; row ``k`` is drawn at ``(k + 1) dt``.
        sample: batch index when ``trace`` has a batch dimension.
        neurons: indices of the neurons to draw (after flattening); all by default.
        ax: axes to draw on; the current axes when ``None``.
        title: optional title.

    Returns:
        The axes drawn on.

    Raises:
        ValueError: shapes that disagree, both ``t`` and ``dt``, or neuron indices out
            of range.
    """
    data = _select(_as_cpu_tensor(trace, "trace"), sample, "trace", "a trace")
    n_t, n_n = data.shape
    marks = None
    if spikes is not None:
        s = _as_cpu_tensor(spikes, "spikes")
        if s.shape != _as_cpu_tensor(trace, "trace").shape:
            raise ValueError(
                f"spikes has shape {tuple(s.shape)} but trace has shape "
                f"{tuple(_as_cpu_tensor(trace, 'trace').shape)}; they must match."
            )
        marks = _select(s, sample, "spikes")
    idx = list(range(n_n)) if neurons is None else list(neurons)
    bad = [i for i in idx if not -n_n <= i < n_n]
    if bad:
        raise ValueError(
            f"neurons {bad} out of range for a trace with {n_n} neurons; pick indices "
            f"in [0, {n_n})."
        )
    x, xlabel = _time_axis(n_t, t, dt)
    thr = float(torch.as_tensor(threshold).detach().cpu().reshape(-1)[0])
    ax = ax if ax is not None else plt.gca()
    y = data.to(torch.float64).numpy()
    for i in idx:
        (line,) = ax.plot(x, y[:, i], lw=1.0, label=f"neuron {i}")
        if marks is not None:
            hit = marks[:, i].numpy() != 0
            ax.plot(
                x[hit],
                np.full(int(hit.sum()), thr),
                linestyle="none",
                marker="v",
                color=line.get_color(),
                markersize=6,
            )
    ax.axhline(thr, color="k", linestyle="--", lw=1.0, label="threshold")
    _label(ax, xlabel, "Readout", title)
    if len(idx) <= 8:
        ax.legend(loc="best", fontsize="small")
    return ax


def plot_trajectory(
    m: ArrayLike,
    *,
    index: Sequence[int] = (),
    sphere: bool = True,
    ax: Axes | None = None,
    title: str | None = None,
    **plot_kwargs: Any,
) -> Axes:
    """The path of the unit magnetization on the unit sphere, in 3-D.

    Args:
        m: trajectory, shape ``[T, *S, 3]`` (e.g. the ``traj`` of
            :func:`shno_neurons.llgs.simulate`, or ``[T, N, 3]`` states stacked over
            network steps).
        index: which element of ``S`` to draw (e.g. ``(sample, neuron)``); missing
            trailing indices default to 0.
        sphere: draw a light wireframe of the unit sphere.
        ax: a 3-D axes (``fig.add_subplot(projection="3d")``); a new figure with one
            when ``None``.
        title: optional title.
        **plot_kwargs: passed to ``ax.plot`` for the path.

    Returns:
        The axes drawn on. The start is marked by a circle, the end by a cross.

    Raises:
        ValueError: a last dimension other than 3, a 2-D axes, or an index out of
            range.
    """
    traj = _as_cpu_tensor(m, "m").to(torch.float64)
    if traj.ndim < 2 or traj.shape[-1] != 3:
        raise ValueError(
            f"m has shape {tuple(traj.shape)}; expected [T, ..., 3] (time first, the "
            "three components of m last)."
        )
    extra = traj.shape[1:-1]
    if len(index) > len(extra):
        raise ValueError(
            f"index {tuple(index)} has more entries than m has batch dimensions "
            f"({tuple(extra)})."
        )
    full = tuple(index) + (0,) * (len(extra) - len(index))
    for i, (k, size) in enumerate(zip(full, extra, strict=True)):
        if not -size <= k < size:
            raise ValueError(
                f"index[{i}] = {k} is out of range for a dimension of size {size}."
            )
    path = traj[(slice(None),) + full].numpy()
    if ax is None:
        ax = plt.figure().add_subplot(projection="3d")
    elif getattr(ax, "name", None) != "3d":
        raise ValueError(
            "ax must be a 3-D axes; create it with fig.add_subplot(projection='3d')."
        )
    if sphere:
        u, v = np.meshgrid(np.linspace(0, 2 * np.pi, 25), np.linspace(0, np.pi, 13))
        ax.plot_wireframe(
            np.cos(u) * np.sin(v),
            np.sin(u) * np.sin(v),
            np.cos(v),
            color="0.85",
            linewidth=0.5,
        )
    plot_kwargs.setdefault("lw", 1.0)
    ax.plot(path[:, 0], path[:, 1], path[:, 2], **plot_kwargs)
    ax.scatter(*path[0], marker="o", color="tab:green", label="start")
    ax.scatter(*path[-1], marker="x", color="tab:red", label="end")
    ax.set_xlim(-1, 1)
    ax.set_ylim(-1, 1)
    ax.set_zlim(-1, 1)
    ax.set_box_aspect((1, 1, 1))
    ax.set_zlabel("$m_z$")
    _label(ax, "$m_x$", "$m_y$", title)
    return ax


def plot_sweep(
    sweep: Any,
    *,
    j_threshold: float | None = None,
    ax: Axes | None = None,
    amplitude_ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Oscillation frequency and amplitude against current density.

    Args:
        sweep: a current sweep with fields ``j`` (A/m^2), ``frequency`` (Hz; NaN where
            there is no oscillation) and ``amplitude`` (dimensionless), each of shape
            ``[K]``, e.g. the result of :func:`shno_neurons.characterise.sweep_current`.
        j_threshold: threshold current density, A/m^2 (e.g. from
            :func:`shno_neurons.characterise.extract_threshold`), drawn as a dotted
            vertical line; omitted when ``None``.
        ax: axes for the frequency (GHz, left axis); the current axes when ``None``.
        amplitude_ax: axes for the amplitude; a twin of ``ax`` sharing its x axis
            when ``None``.
        title: optional title.

    Returns:
        ``ax`` (the frequency axes).

    Raises:
        ValueError: a sweep whose fields have different lengths.
    """
    for name in ("j", "frequency", "amplitude"):
        if not hasattr(sweep, name):
            raise TypeError(
                f"sweep has no field {name!r}; pass the result of "
                "shno_neurons.characterise.sweep_current (fields j, frequency, "
                "amplitude)."
            )
    j = _as_cpu_tensor(sweep.j, "sweep.j").to(torch.float64).numpy().reshape(-1)
    f = _as_cpu_tensor(sweep.frequency, "sweep.frequency").to(torch.float64).numpy()
    a = _as_cpu_tensor(sweep.amplitude, "sweep.amplitude").to(torch.float64).numpy()
    f, a = f.reshape(-1), a.reshape(-1)
    if not (j.shape == f.shape == a.shape):
        raise ValueError(
            f"sweep fields differ in length: j {j.shape}, frequency {f.shape}, "
            f"amplitude {a.shape}."
        )
    ax = ax if ax is not None else plt.gca()
    amp_ax = amplitude_ax if amplitude_ax is not None else ax.twinx()
    ax.plot(j, f * 1e-9, "o-", color="tab:blue", ms=3, label="frequency")
    amp_ax.plot(j, a, "s--", color="tab:orange", ms=3, label="amplitude")
    if j_threshold is not None:
        ax.axvline(
            float(j_threshold), color="k", linestyle=":", label="threshold $j_c$"
        )
    ax.set_ylabel("Frequency (GHz)", color="tab:blue")
    amp_ax.set_ylabel("Amplitude", color="tab:orange")
    amp_ax.set_xlabel("Current density (A/m$^2$)")
    _label(ax, "Current density (A/m$^2$)", "Frequency (GHz)", title)
    ax.legend(loc="upper left", fontsize="small")
    return ax
