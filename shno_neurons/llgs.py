r"""The macrospin Landau-Lifshitz-Gilbert-Slonczewski equation and its integrators.

This module states the equation once; other modules refer here for the symbols.

The magnetization is a unit vector ``m`` (shape ``(..., 3)``). A charge current density
``j`` (A/m^2) in the heavy metal injects a spin current polarized along ``sigma`` and
acts through a damping-like field ``H_DL = a_DL j`` with
``a_DL = hbar theta_SH / (2 e mu0 Ms t_FM)`` and a field-like field
``H_FL = beta_FL H_DL``. All torques fold into one total field

.. math::

    H_t = H_\mathrm{eff} + H_\mathrm{FL}\,\sigma + H_\mathrm{DL}\,(m\times\sigma),
    \qquad
    H_\mathrm{eff} = H_\mathrm{ext} + H_K (m\cdot u)\,u - M_s N m + H_\mathrm{th},

and ``m`` follows the explicit Landau-Lifshitz form of the Gilbert equation

.. math::

    \frac{dm}{dt} = -\frac{\gamma_0}{1+\alpha^2}
        \left[m\times H_t + \alpha\, m\times(m\times H_t)\right].

Symbols (units): ``gamma0`` gyromagnetic ratio (m/(A s)), ``alpha`` Gilbert damping,
``H_ext`` applied field, ``H_K`` uniaxial anisotropy field along the unit axis ``u``,
``N`` the diagonal demagnetizing factors, ``Ms`` saturation magnetization, ``H_th``
the thermal (Brown) field; every field in A/m, time in s.

Integrators (one step of length ``dt``, each followed by renormalising ``m``):

* ``"rk4"``: classical Runge-Kutta, the deterministic default (error of m after 2 ns of
  Set A: 6e-8 at dt = 1 ps).
* ``"heun"``: the stochastic Heun scheme, which converges to the Stratonovich solution
  the Brown field needs; chosen automatically when the temperature is above zero.
* ``"euler"``: explicit Euler, for teaching only: it is inaccurate at any step used in
  practice and spirals outward in precession.

A norm-preserving implicit midpoint (Cayley) step was measured too: about ten times less
accurate than RK4 per step at 1 ps and needs a nonlinear solve, so RK4 + renormalise is
the default.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Literal, NamedTuple

import torch
from torch import Tensor

from .constants import E_CHARGE, HBAR, K_B, MU0
from .parameters import SHNOParameters

__all__ = [
    "Coefficients",
    "coefficients",
    "llgs_rhs",
    "effective_field",
    "step",
    "simulate",
    "resolve_method",
    "substep_limit",
    "check_step_size",
    "equilibrium",
]

Method = Literal["auto", "rk4", "heun", "euler"]
CurrentLike = float | Tensor | Callable[[float], Tensor]

#: Largest ``gamma0 |H_t| dt / (1 + alpha^2)`` (radians of precession per step) each
#: scheme accepts before a warning. RK4 is stable on the imaginary axis up to 2.83 and
#: accurate to ~1e-5 after 2 ns at 0.75; Heun's error grows as dt^2 and passes 1e-2 at
#: 0.75; Euler is never stable for pure precession.
_ACCURACY_LIMIT = {"rk4": 0.8, "heun": 0.4, "euler": 0.05}
#: Past this many radians per step the scheme diverges: substeps are subdivided.
_STABILITY_LIMIT = {"rk4": 2.0, "heun": 1.0, "euler": 0.1}


class Coefficients(NamedTuple):
    """The parameters of :class:`SHNOParameters` as tensors ready to broadcast.

    Per-neuron (scalar) quantities have a trailing singleton dimension so that they
    multiply ``(..., 3)`` vectors; vector quantities have a trailing dimension of 3.

    Attributes:
        gamma: ``gamma0 / (1 + alpha^2)``, m/(A s), shape ``(..., 1)``.
        alpha: Gilbert damping, shape ``(..., 1)``.
        h_ext: applied field, A/m, shape ``(..., 3)``.
        h_k: anisotropy field, A/m, shape ``(..., 1)``.
        easy_axis: unit axis ``u``, shape ``(..., 3)``.
        ms_n: ``Ms * N`` per component, A/m, shape ``(..., 3)``.
        sigma: spin polarization, shape ``(..., 3)``.
        a_dl: damping-like field per unit current density, (A/m)/(A/m^2),
            shape ``(..., 1)``.
        beta_fl: field-like ratio, shape ``(..., 1)``.
        thermal_std_dt: Brown-field standard deviation times ``sqrt(dt)``,
            A s^(1/2) / m, shape ``(..., 1)``; divide by ``sqrt(dt)`` for a step.
    """

    gamma: Tensor
    alpha: Tensor
    h_ext: Tensor
    h_k: Tensor
    easy_axis: Tensor
    ms_n: Tensor
    sigma: Tensor
    a_dl: Tensor
    beta_fl: Tensor
    thermal_std_dt: Tensor


def coefficients(
    p: SHNOParameters, dtype: torch.dtype, device: torch.device | str | None = None
) -> Coefficients:
    """Convert device parameters to broadcastable tensors (keeps autograd links).

    Args:
        p: device parameters; tensor fields of shape ``(N,)`` give per-neuron values.
        dtype: floating dtype of the simulation.
        device: where the simulation runs.
    """

    def s(x) -> Tensor:
        return torch.as_tensor(x, dtype=dtype, device=device).unsqueeze(-1)

    def v(x) -> Tensor:
        return torch.as_tensor(x, dtype=dtype, device=device)

    ms = s(p.ms)
    alpha = s(p.alpha)
    gamma0 = s(p.gamma0)
    a_dl = HBAR * s(p.theta_sh) / (2.0 * E_CHARGE * MU0 * ms * s(p.t_fm))
    thermal = torch.sqrt(
        2.0 * alpha * K_B * s(p.temperature) / (gamma0 * MU0 * ms * s(p.volume))
    )
    return Coefficients(
        gamma=gamma0 / (1.0 + alpha * alpha),
        alpha=alpha,
        h_ext=v(p.h_ext),
        h_k=s(p.h_k),
        easy_axis=v(p.easy_axis),
        ms_n=ms * v(p.demag),
        sigma=v(p.sigma),
        a_dl=a_dl,
        beta_fl=s(p.beta_fl),
        thermal_std_dt=thermal,
    )


def _cross(a: Tensor, b: Tensor) -> Tensor:
    """Cross product over the last dimension, broadcasting the others."""
    a, b = torch.broadcast_tensors(a, b)
    return torch.linalg.cross(a, b, dim=-1)


def effective_field(m: Tensor, c: Coefficients) -> Tensor:
    """Conservative effective field ``H_ext + H_K (m.u) u - Ms N m``, A/m.

    Args:
        m: magnetization, shape ``(..., 3)``.
        c: coefficients from :func:`coefficients`.
    """
    mu = (m * c.easy_axis).sum(-1, keepdim=True)
    return c.h_ext + c.h_k * mu * c.easy_axis - c.ms_n * m


def _rhs(m: Tensor, h_dl: Tensor, c: Coefficients, h_th: Tensor | None) -> Tensor:
    """``dm/dt`` for a given damping-like field ``h_dl`` (shape ``(..., 1)``)."""
    # Total field: conservative part, thermal field, then both spin-torque fields.
    h = effective_field(m, c)
    if h_th is not None:
        h = h + h_th
    h = h + c.beta_fl * h_dl * c.sigma + h_dl * _cross(m, c.sigma)

    # Precession and damping about the total field.
    mxh = _cross(m, h)
    mxmxh = _cross(m, mxh)
    return -c.gamma * (mxh + c.alpha * mxmxh)


def llgs_rhs(m: Tensor, j: Tensor | float, p: SHNOParameters | Coefficients) -> Tensor:
    """Right-hand side ``dm/dt`` of the LLGS equation (module docstring), 1/s.

    Args:
        m: magnetization, shape ``(..., 3)``.
        j: charge current density, A/m^2, shape broadcastable to ``m.shape[:-1]``.
        p: device parameters or precomputed :class:`Coefficients`.

    Returns:
        ``dm/dt``, shape ``(..., 3)``.
    """
    c = p if isinstance(p, Coefficients) else coefficients(p, m.dtype, m.device)
    j = torch.as_tensor(j, dtype=m.dtype, device=m.device)
    return _rhs(m, c.a_dl * j.unsqueeze(-1), c, None)


def _normalise(m: Tensor) -> Tensor:
    return m / torch.linalg.vector_norm(m, dim=-1, keepdim=True)


def step(
    m: Tensor,
    h_dl: Tensor,
    c: Coefficients,
    dt: float,
    method: Literal["rk4", "heun", "euler"] = "rk4",
    h_th: Tensor | None = None,
) -> Tensor:
    """Advance ``m`` by one integrator step of length ``dt`` (s), then renormalise.

    Args:
        m: magnetization, shape ``(..., 3)``.
        h_dl: damping-like field ``a_DL j``, A/m, shape ``(..., 1)``; constant over
            the step.
        c: coefficients from :func:`coefficients`.
        dt: step length, s.
        method: ``"rk4"``, ``"heun"`` or ``"euler"`` (see module docstring).
        h_th: Brown field held constant over the step, A/m, shape ``(..., 3)``, or
            ``None`` for no thermal noise.
    """
    if method == "rk4":
        k1 = _rhs(m, h_dl, c, h_th)
        k2 = _rhs(m + 0.5 * dt * k1, h_dl, c, h_th)
        k3 = _rhs(m + 0.5 * dt * k2, h_dl, c, h_th)
        k4 = _rhs(m + dt * k3, h_dl, c, h_th)
        return _normalise(m + (dt / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4))
    if method == "heun":
        k1 = _rhs(m, h_dl, c, h_th)
        k2 = _rhs(m + dt * k1, h_dl, c, h_th)
        return _normalise(m + (0.5 * dt) * (k1 + k2))
    if method == "euler":
        return _normalise(m + dt * _rhs(m, h_dl, c, h_th))
    raise ValueError(
        f"method = {method!r} is not one of 'rk4', 'heun', 'euler'. Use 'rk4' without "
        "thermal noise and 'heun' with it."
    )


def resolve_method(
    method: Method, p: SHNOParameters
) -> Literal["rk4", "heun", "euler"]:
    """Pick the integrator: ``"auto"`` means RK4, or Heun when noise is on.

    Raises:
        ValueError: for an unknown name, or RK4/Euler with thermal noise (only Heun is
            Stratonovich-consistent here).
    """
    noisy = _is_noisy(p)
    if method == "auto":
        return "heun" if noisy else "rk4"
    if method not in ("rk4", "heun", "euler"):
        raise ValueError(
            f"method = {method!r} is not one of 'auto', 'rk4', 'heun', 'euler'."
        )
    if noisy and method != "heun":
        raise ValueError(
            f"method = {method!r} with temperature > 0: thermal noise needs the "
            "Stratonovich-consistent 'heun' scheme. Pass method='heun' or 'auto', or "
            "set temperature=0."
        )
    return method


def _is_noisy(p: SHNOParameters) -> bool:
    t = p.temperature
    if isinstance(t, Tensor):
        return bool((t.detach() > 0).any())
    return float(t) > 0.0


def substep_limit(method: str) -> float:
    """Radians of precession per step above which ``method`` becomes unstable."""
    return _STABILITY_LIMIT[method]


def check_step_size(
    p: SHNOParameters,
    dt: float,
    method: Literal["rk4", "heun", "euler"],
    j_abs_max: float = 0.0,
    stacklevel: int = 3,
) -> float:
    """Warn when ``dt`` is too coarse for the fastest precession; return its phase.

    Returns:
        ``gamma0 |H_t|max dt``, the largest precession angle per step, rad.
    """
    phase = float(p.max_field(j_abs_max)) * _max_gamma(p) * dt
    if phase > _ACCURACY_LIMIT[method]:
        warnings.warn(
            f"dt = {dt:.3g} s with method {method!r} turns m by up to {phase:.2f} rad "
            f"per step (accurate below {_ACCURACY_LIMIT[method]}); results may be "
            f"inaccurate. Use dt <= {dt * _ACCURACY_LIMIT[method] / phase:.3g} s.",
            UserWarning,
            stacklevel=stacklevel,
        )
    return phase


def _max_gamma(p: SHNOParameters) -> float:
    g = p.gamma0
    return float(g.detach().max()) if isinstance(g, Tensor) else float(g)


def _brown_field(
    like: Tensor, c: Coefficients, dt: float, generator: torch.Generator | None
) -> Tensor:
    noise = torch.randn(
        like.shape, dtype=like.dtype, device=like.device, generator=generator
    )
    return noise * (c.thermal_std_dt / math.sqrt(dt))


def simulate(
    m0: Tensor,
    j: CurrentLike,
    p: SHNOParameters,
    t_end: float,
    dt: float = 1e-12,
    record_every: int = 1,
    method: Method = "auto",
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Integrate the LLGS equation from ``m0`` for ``t_end`` seconds.

    Args:
        m0: initial magnetization, shape ``(..., 3)`` (normalised on entry).
        j: current density, A/m^2: a float, a tensor broadcastable to
            ``m0.shape[:-1]``, or a callable ``j(t) -> Tensor`` for a time-dependent
            drive (sampled at the start of each step).
        p: device parameters.
        t_end: duration, s.
        dt: integrator step, s (1 ps keeps RK4 within 1e-7 on every preset).
        record_every: keep every ``record_every``-th step.
        method: ``"auto"`` (RK4, or Heun with noise), ``"rk4"``, ``"heun"``,
            ``"euler"``.
        generator: random source for the thermal field (reproducible from its seed).

    Returns:
        ``(t, m)``: times, s, shape ``(R,)``, and the trajectory, shape
        ``(R, ..., 3)``, with ``R = n_steps // record_every + 1`` including ``t = 0``.
    """
    if not (t_end > 0 and dt > 0):
        raise ValueError(
            f"simulate needs t_end > 0 and dt > 0 (seconds), got t_end={t_end!r}, "
            f"dt={dt!r}."
        )
    if record_every < 1:
        raise ValueError(f"record_every = {record_every!r} must be a positive integer.")
    scheme = resolve_method(method, p)
    n_steps = int(round(t_end / dt))
    c = coefficients(p, m0.dtype, m0.device)
    j_max = 0.0 if callable(j) else float(torch.as_tensor(j).detach().abs().max())
    check_step_size(p, dt, scheme, j_max)
    noisy = _is_noisy(p)

    m = _normalise(m0)
    times = [0.0]
    traj = [m]
    for n in range(n_steps):
        jn = j(n * dt) if callable(j) else j
        jn = torch.as_tensor(jn, dtype=m.dtype, device=m.device)
        h_th = _brown_field(m, c, dt, generator) if noisy else None
        m = step(m, c.a_dl * jn.unsqueeze(-1), c, dt, scheme, h_th)
        if (n + 1) % record_every == 0:
            times.append((n + 1) * dt)
            traj.append(m)
    t = torch.tensor(times, dtype=m0.dtype, device=m0.device)
    # m0 may be narrower than the current or per-neuron parameters it meets (e.g. one
    # direction for N neurons): broadcast the recorded states to a common shape.
    return t, torch.stack(torch.broadcast_tensors(*traj))


def equilibrium(
    p: SHNOParameters,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Tensor:
    """Equilibrium direction at zero current, found by relaxation, shape ``(..., 3)``.

    With scalar parameters this is :meth:`SHNOParameters.equilibrium` (shape ``(3,)``);
    with per-neuron parameters of shape ``(N,)`` each neuron is relaxed on its own
    (shape ``(N, 3)``) by an overdamped flow on the sphere in float64.
    """
    # Per-neuron scalars hold N values, per-neuron vectors N x 3 (N may be <= 3).
    fields = [(p.ms, 1), (p.h_k, 1), (p.h_ext, 3), (p.easy_axis, 3), (p.demag, 3)]
    if not any(isinstance(f, Tensor) and f.numel() > n for f, n in fields):
        return torch.as_tensor(p.equilibrium(), dtype=dtype, device=device)
    c = coefficients(p, torch.float64, "cpu")
    c = c._replace(**{k: getattr(c, k).detach() for k in c._fields})
    start = torch.as_tensor(_nominal(p).equilibrium(), dtype=torch.float64)
    shape = torch.broadcast_shapes(
        c.h_k.shape[:-1], c.ms_n.shape[:-1], c.h_ext.shape[:-1], c.easy_axis.shape[:-1]
    )
    m = start.expand(*shape, 3).clone()
    scale = float(
        torch.linalg.vector_norm(c.h_ext, dim=-1).max()
        + c.h_k.max()
        + c.ms_n.abs().max()
    )
    for _ in range(200_000):
        h = effective_field(m, c)
        torque = h - (m * h).sum(-1, keepdim=True) * m
        if float(torch.linalg.vector_norm(torque, dim=-1).max()) < 1e-12 * scale:
            break
        m = _normalise(m + (0.5 / scale) * torque)
    return m.to(dtype=dtype, device=device)


def _nominal(p: SHNOParameters) -> SHNOParameters:
    """The parameters with every per-neuron tensor replaced by its mean."""
    nominal = {}
    for f in (
        "ms",
        "alpha",
        "theta_sh",
        "h_k",
        "t_fm",
        "beta_fl",
        "temperature",
        "volume",
        "gamma0",
    ):
        value = getattr(p, f)
        if isinstance(value, Tensor):
            nominal[f] = float(value.detach().double().mean())
    for f in ("h_ext", "easy_axis", "demag", "sigma"):
        value = getattr(p, f)
        if isinstance(value, Tensor):
            nominal[f] = tuple(value.detach().double().reshape(-1, 3).mean(0).tolist())
    return p.replace(**nominal)
