"""Characterise a device numerically: frequency, amplitude and growth rate vs current.

:func:`sweep_current` simulates one macrospin per current density, all in a single
batched :func:`shno_neurons.llgs.simulate` call, starting a small angle ``tilt`` away
from the zero-current equilibrium ``m0`` (toward the soft transverse axis ``e1`` of
:meth:`~shno_neurons.parameters.SHNOParameters.stiffness_fields`), and measures

* the small-angle growth rate: the slope of the log of the deviation from ``m0``
  early on (negative below threshold: the leak; positive above it),
* the oscillation frequency in a final window, from linearly interpolated upward zero
  crossings of the transverse component ``m . e1``,
* the transverse amplitude in that window.

:func:`extract_threshold` turns a sweep into the threshold current density: the zero of
a straight-line fit of the growth rate against ``j`` around its sign change. On the
auto-oscillation presets it reproduces the closed form
:meth:`~shno_neurons.parameters.SHNOParameters.threshold_current_density`, and it also
works where no closed form exists.

The growth rate is measured on the stiffness-weighted deviation
``E = H1 (m . e1)^2 + H2 (m . e2)^2`` (the small-angle energy), which stays constant
along an undamped elliptical orbit, so the elliptical wobble of a thin-film precession
barely biases the fitted slope; the growth rate of the amplitude is half the slope of
``log E``.

Known shortcoming: the growth rate is the instability of the *zero-current*
equilibrium. Where the current also moves the static equilibrium (sigma normal to m0,
e.g. the easy-plane neuron below threshold), the early deviation mixes the static tilt
with the instability and the growth rate is not meaningful; use ``frequency`` (the
phase-slip rotation rate above threshold) and ``amplitude`` there. The mark can go when
the sweep linearises around the current-dependent fixed point.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from . import llgs
from .parameters import SHNOParameters

__all__ = ["Sweep", "sweep_current", "extract_threshold"]

_VECTOR_FIELDS = ("h_ext", "easy_axis", "demag", "sigma", "readout_axis")


class Sweep(NamedTuple):
    """Result of :func:`sweep_current`; every field has shape ``(K,)``.

    Attributes:
        j: current densities, A/m^2, in the order given.
        frequency: frequency of the upward zero crossings of ``m . e1`` in the final
            window, Hz (the precession frequency; for a phase-slip neuron the rotation
            rate, half its spike rate); NaN where fewer than two crossings occur.
        amplitude: largest transverse deviation ``|m - (m . m0) m0|`` in the final
            window, dimensionless (the sine of the cone angle).
        growth_rate: small-angle growth rate of the deviation from ``m0``, 1/s
            (negative: the deviation decays); NaN where too few samples stayed in the
            small-angle range to fit a slope.
    """

    j: Tensor
    frequency: Tensor
    amplitude: Tensor
    growth_rate: Tensor


def _check_positive(name: str, value: float, upper: float | None = None) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(
            f"sweep_current: {name} must be a number, got {value!r}."
        ) from None
    if not (math.isfinite(v) and v > 0 and (upper is None or v <= upper)):
        bound = f"(0, {upper:.3g}]" if upper is not None else "(0, inf)"
        raise ValueError(
            f"sweep_current: {name} = {value!r} must lie in {bound}. Pass a positive, "
            "finite value in SI units."
        )
    return v


def _check_nominal(p: SHNOParameters) -> None:
    """Reject per-neuron (tensor) fields: the sweep needs one device."""
    for f in dataclasses.fields(p):
        value = getattr(p, f.name)
        size = 3 if f.name in _VECTOR_FIELDS else 1
        if isinstance(value, Tensor) and value.numel() != size:
            raise ValueError(
                f"sweep_current: SHNOParameters.{f.name} holds {value.numel() // size} "
                "values (one per neuron); a sweep characterises one device. Pass the "
                "nominal parameters, e.g. p.replace(" + f.name + "=<one value>)."
            )


def _as_currents(j_values: Tensor | Sequence[float], dtype, device) -> Tensor:
    j = torch.as_tensor(j_values, dtype=dtype, device=device)
    if j.dim() != 1 or j.numel() == 0:
        raise ValueError(
            f"sweep_current: j_values must be a non-empty 1-D sequence of current "
            f"densities (A/m^2), got shape {tuple(j.shape)}."
        )
    bad = ~torch.isfinite(j)
    if bool(bad.any()):
        raise ValueError(
            f"sweep_current: j_values has {int(bad.sum())} non-finite entries out of "
            f"{j.numel()}; pass finite current densities in A/m^2."
        )
    return j


def sweep_current(
    p: SHNOParameters,
    j_values: Tensor | Sequence[float],
    t_end: float = 5e-9,
    dt: float = 1e-12,
    tilt: float = 0.02,
    *,
    window: float | None = None,
    growth_window: float | None = None,
    max_growth_angle: float = 0.1,
    record_every: int = 1,
    method: llgs.Method = "auto",
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
    generator: torch.Generator | None = None,
) -> Sweep:
    """Simulate the device at each current density and measure its small-signal numbers.

    Args:
        p: nominal device parameters (float fields; per-neuron tensors are rejected,
            because the equilibrium and its stiffness axes must be unique).
        j_values: current densities to simulate, A/m^2, shape ``(K,)``.
        t_end: simulated time per current, s.
        dt: integrator step, s (1 ps is accurate to 1e-7 on every preset with RK4).
        tilt: initial angle between m and the equilibrium ``m0``, rad, in ``(0, 0.5]``;
            small, so the early evolution is linear.
        window: length of the final window in which frequency and amplitude are
            measured, s; default ``t_end / 2``.
        growth_window: the growth rate is fitted on ``[0, growth_window]``, s; default
            ``t_end``. Samples after the deviation first exceeds ``max_growth_angle``
            are left out, so a fast-growing trace is only fitted while it is linear.
        max_growth_angle: largest deviation from ``m0`` used in the growth fit, rad,
            in ``(tilt, pi/2)``.
        record_every: keep every ``record_every``-th integrator step for the analysis
            (keep at least ~8 samples per precession period).
        method: integrator (``"auto"``: RK4, or Heun when ``p.temperature > 0``).
        dtype: floating dtype of the simulation (float64 by default: the growth rate
            near threshold is a small difference of large terms).
        device: where to simulate.
        generator: random source for the thermal field, when ``p.temperature > 0``.

    Returns:
        A :class:`Sweep` with tensors of shape ``(K,)`` in ``dtype`` on ``device``.

    Raises:
        ValueError: for an empty, non-1-D or non-finite ``j_values``; a non-positive
            or non-finite ``t_end``, ``dt``, ``tilt``, ``window`` or
            ``growth_window``; ``dt`` not below ``t_end``; ``max_growth_angle`` not in
            ``(tilt, pi/2)``; ``record_every`` below 1; or per-neuron (tensor)
            parameters.
    """
    # Validate the request once, here.
    t_end = _check_positive("t_end", t_end)
    dt = _check_positive("dt", dt)
    if dt >= t_end:
        raise ValueError(
            f"sweep_current: dt = {dt!r} s must be smaller than t_end = {t_end!r} s."
        )
    tilt = _check_positive("tilt", tilt, 0.5)
    window = t_end / 2 if window is None else _check_positive("window", window, t_end)
    growth_window = (
        t_end
        if growth_window is None
        else _check_positive("growth_window", growth_window, t_end)
    )
    if not (tilt < max_growth_angle < math.pi / 2):
        raise ValueError(
            f"sweep_current: max_growth_angle = {max_growth_angle!r} rad must lie "
            f"between tilt = {tilt!r} and pi/2."
        )
    if not isinstance(record_every, int) or record_every < 1:
        raise ValueError(
            f"sweep_current: record_every = {record_every!r} must be a positive "
            "integer."
        )
    j = _as_currents(j_values, dtype, device)
    _check_nominal(p)
    stiff = p.stiffness_fields()

    # Start every current from the same small tilt toward the soft axis.
    m0 = torch.as_tensor(stiff.m0, dtype=dtype, device=device)
    e1 = torch.as_tensor(stiff.e1, dtype=dtype, device=device)
    e2 = torch.as_tensor(stiff.e2, dtype=dtype, device=device)
    start = math.cos(tilt) * m0 + math.sin(tilt) * e1
    t, traj = llgs.simulate(
        start.expand(j.shape[0], 3).clone(),
        j,
        p,
        t_end,
        dt,
        record_every=record_every,
        method=method,
        generator=generator,
    )

    # Project on the equilibrium frame: x1, x2 transverse, x0 along m0; shape (R, K).
    x0 = traj @ m0
    x1 = traj @ e1
    x2 = traj @ e2
    transverse = torch.sqrt(x1 * x1 + x2 * x2)

    late = t >= t[-1] - window * (1.0 - 1e-9)
    amplitude = transverse[late].amax(0)
    frequency = _zero_crossing_frequency(t[late], x1[late])
    if stiff.h1 > 0 and stiff.h2 > 0:
        energy = stiff.h1 * x1 * x1 + stiff.h2 * x2 * x2
    else:
        energy = x1 * x1 + x2 * x2
    angle = torch.atan2(transverse, x0)
    growth = _growth_rate(t, energy, angle, growth_window, max_growth_angle)
    return Sweep(j=j, frequency=frequency, amplitude=amplitude, growth_rate=growth)


def _zero_crossing_frequency(t: Tensor, x: Tensor) -> Tensor:
    """Frequency from linearly interpolated upward zero crossings of ``x``.

    ``x`` is not centred on its mean: a decaying oscillation has a mean offset of the
    order of its final amplitude, which would shift the late crossings. The transverse
    component of an orbit around ``m0`` crosses zero anyway.

    Args:
        t: sample times, s, shape ``(R,)``.
        x: signal, shape ``(R, K)``.

    Returns:
        Frequency, Hz, shape ``(K,)``; NaN with fewer than two crossings.
    """
    a, b = x[:-1], x[1:]
    up = (a < 0) & (b >= 0)
    frac = -a / torch.where(up, b - a, torch.ones_like(a))
    t_cross = t[:-1, None] + frac * (t[1:] - t[:-1])[:, None]
    first = torch.where(up, t_cross, torch.full_like(t_cross, math.inf)).amin(0)
    last = torch.where(up, t_cross, torch.full_like(t_cross, -math.inf)).amax(0)
    count = up.sum(0)
    span = last - first
    ok = (count >= 2) & (span > 0)
    freq = (count - 1).to(t.dtype) / torch.where(ok, span, torch.ones_like(span))
    return torch.where(ok, freq, torch.full_like(freq, math.nan))


def _growth_rate(
    t: Tensor, energy: Tensor, angle: Tensor, t_max: float, max_angle: float
) -> Tensor:
    """Half the least-squares slope of ``log energy`` on the small-angle samples.

    A sample is used when ``t <= t_max``, the deviation has stayed below
    ``max_angle`` up to it, and it is far enough above the rounding floor of the
    dtype to have a meaningful logarithm.

    Returns:
        Growth rate of the deviation's amplitude, 1/s, shape ``(K,)``; NaN where fewer
        than 8 samples qualify.
    """
    floor = 1e3 * torch.finfo(angle.dtype).eps
    stayed_small = torch.cummax((angle > max_angle).to(torch.int8), 0).values == 0
    use = stayed_small & (angle > floor) & (t <= t_max * (1 + 1e-9))[:, None]
    w = use.to(t.dtype)
    n = w.sum(0)
    log_e = torch.log(torch.where(use, energy, torch.ones_like(energy)))
    tt = t[:, None].expand_as(log_e)
    n_safe = n.clamp_min(1.0)
    t_mean = (w * tt).sum(0) / n_safe
    y_mean = (w * log_e).sum(0) / n_safe
    dt_ = (tt - t_mean) * w
    cov = (dt_ * (log_e - y_mean)).sum(0)
    var = (dt_ * dt_).sum(0)
    ok = (n >= 8) & (var > 0)
    slope = cov / torch.where(ok, var, torch.ones_like(var))
    return torch.where(ok, 0.5 * slope, torch.full_like(slope, math.nan))


def extract_threshold(sweep: Sweep, n_fit: int = 4) -> float:
    """Threshold current density from a sweep: where the growth rate crosses zero.

    The growth rate is linear in ``j`` near threshold (the antidamping adds to the
    damping rate), so a straight line through the ``n_fit`` points around the sign
    change, evaluated at zero, locates the threshold between the sampled currents.

    Args:
        sweep: output of :func:`sweep_current`, with currents on both sides of the
            threshold.
        n_fit: number of points around the sign change used in the fit (at least 2;
            half on each side where available).

    Returns:
        Threshold current density, A/m^2 (its sign is that of the driving current).

    Raises:
        ValueError: when fewer than two growth rates are finite, when the growth rate
            never changes sign (widen the sweep), or when ``n_fit < 2``.
    """
    if not isinstance(n_fit, int) or n_fit < 2:
        raise ValueError(
            f"extract_threshold: n_fit = {n_fit!r} must be an integer >= 2."
        )
    j = sweep.j.detach().double().cpu().numpy()
    rate = sweep.growth_rate.detach().double().cpu().numpy()
    finite = np.isfinite(rate) & np.isfinite(j)
    if finite.sum() < 2:
        raise ValueError(
            f"extract_threshold: only {int(finite.sum())} of {rate.size} growth rates "
            "are finite; a fit needs at least two. Lengthen t_end or lower tilt in "
            "sweep_current."
        )
    order = np.argsort(j[finite])
    j, rate = j[finite][order], rate[finite][order]
    changes = np.nonzero(np.sign(rate[:-1]) * np.sign(rate[1:]) <= 0)[0]
    if changes.size == 0:
        raise ValueError(
            "extract_threshold: the growth rate does not change sign between "
            f"j = {j[0]:.4g} and {j[-1]:.4g} A/m^2 (rates {rate[0]:.3g} to "
            f"{rate[-1]:.3g} 1/s). Widen the sweep so it brackets the threshold."
        )
    # The sign change nearest zero current is the first instability the drive meets.
    k = int(changes[np.argmin(np.abs(j[changes] + j[changes + 1]))])
    lo = max(0, k + 1 - n_fit // 2)
    hi = min(j.size, lo + n_fit)
    lo = max(0, hi - n_fit)
    slope, intercept = np.polyfit(j[lo:hi], rate[lo:hi], 1)
    return float(-intercept / slope)
