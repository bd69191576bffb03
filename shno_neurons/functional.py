"""The SHNO spiking neuron as a pure function: one network step of the LLGS dynamics.

:func:`shno_step` advances every neuron's magnetization through ``ceil(dt / dt_sub)``
integrator substeps (equation and symbols in :mod:`shno_neurons.llgs`), watches a
readout component for an upward threshold crossing at every substep, emits a spike and
applies the reset. It mutates nothing: state in, ``(spikes, state)`` out, in the manner
of Norse's functional neurons. The snnTorch and Norse front-ends are thin wrappers
around it.

Spike rule. The readout is ``r = m . a`` (linear) or ``r = (m . a)^2`` (quadratic,
magnetoresistive), with ``a`` the device's ``readout_axis``. A neuron is *armed* while
``r`` is below the re-arm level ``threshold - hysteresis``; an armed neuron fires when
``r`` reaches ``threshold`` at any substep, and is disarmed until ``r`` falls below the
re-arm level again. So a crossing between two network steps is never missed, and with
hysteresis one noisy excursion is never counted twice. A step emits at most one spike.

Gradient. The spike is ``surrogate(u - threshold)`` with ``u`` the largest readout
reached during the step, masked to zero where ``u`` is above threshold without a
crossing. The backward pass therefore sees the readout's margin to threshold even when
no neuron fired.

Reset (applied at the end of a step in which the neuron fired, with the spike detached
from the graph as snnTorch does):

* ``"zero"``: m returns to its rest direction (equilibrium at zero current), as a
  strong reset pulse or a long pause would leave it.
* ``"subtract"``: m rotates toward rest by a fixed angle ``reset_angle`` (by default
  the angle at which the readout equals the threshold), the analogue of subtracting the
  threshold from a membrane potential: a calibrated reset pulse.
* ``"none"``: m keeps its state and relaxes by its own damping; for the easy-plane
  neuron this is the physical behaviour (the magnet falls into its next minimum).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, NamedTuple

import torch
from torch import Tensor

from . import llgs
from .parameters import SHNOParameters

__all__ = [
    "SHNOState",
    "NeuronParameters",
    "initial_state",
    "rest_direction",
    "shno_step",
    "readout",
    "default_surrogate",
]


class SHNOState(NamedTuple):
    """State of a layer of SHNO neurons.

    Attributes:
        m: unit magnetization, shape ``input_shape + (3,)``.
        armed: 1 where the neuron may fire (its readout has been below the re-arm level
            since its last spike), else 0; shape ``input_shape``, dtype of ``m``.
    """

    m: Tensor
    armed: Tensor


@dataclass(frozen=True)
class NeuronParameters:
    """Spike rule, reset and integrator settings of the SHNO neuron.

    The device itself lives in :class:`~shno_neurons.parameters.SHNOParameters`.

    Attributes:
        threshold: readout level that fires a spike, dimensionless (the readout is a
            magnetization component, so ``|threshold| < 1``); float or tensor.
        hysteresis: the neuron re-arms only after the readout falls below
            ``threshold - hysteresis``; 0 re-arms as soon as it is below threshold.
        reset: ``"subtract"``, ``"zero"`` or ``"none"`` (module docstring).
        reset_angle: rotation toward rest applied by ``"subtract"``, rad; ``None``
            uses the polar angle at which the readout equals the threshold.
        j_bias: DC current density added to the input, A/m^2.
        surrogate: callable mapping ``u - threshold`` to spikes (Heaviside forward,
            surrogate gradient backward), e.g. ``snntorch.surrogate.fast_sigmoid()`` or
            a Norse threshold; ``None`` uses :func:`default_surrogate`.
        dt_sub: integrator substep, s (1 ps keeps RK4 within 1e-7 of the exact path).
        method: ``"auto"`` (RK4, Heun with thermal noise), ``"rk4"``, ``"heun"``,
            ``"euler"``.
        on_unstable: ``"warn"`` or ``"raise"`` when the current is so large that
            ``dt_sub`` would be unstable; with ``"warn"`` the step is subdivided so the
            result stays finite.
        backend: ``"eager"`` (reference PyTorch operations) or ``"fused"`` (the fused
            substep kernel of :mod:`shno_neurons.fused`; same results).
        rest_tilt: angle between the rest direction (initial state and ``"zero"``
            reset target) and the exact equilibrium, rad, tilted toward the readout
            axis. Without thermal noise a macrospin whose polarization is collinear
            with m sits on an unstable fixed point and never starts to precess; the
            default 0.03 rad stands in for the thermal cone of a real device (0.04 rad
            rms for Set A at 300 K). Set 0 for the exact equilibrium, or use
            ``temperature > 0`` for the thermal field itself.
    """

    threshold: float | Tensor = 0.5
    hysteresis: float = 0.0
    reset: Literal["subtract", "zero", "none"] = "subtract"
    reset_angle: float | None = None
    j_bias: float | Tensor = 0.0
    surrogate: Callable[[Tensor], Tensor] | None = None
    dt_sub: float = 1e-12
    method: llgs.Method = "auto"
    on_unstable: Literal["warn", "raise"] = "warn"
    backend: Literal["eager", "fused"] = "eager"
    rest_tilt: float = 0.03

    def __post_init__(self) -> None:
        if self.reset not in ("subtract", "zero", "none"):
            raise ValueError(
                f"NeuronParameters.reset = {self.reset!r} is not one of 'subtract', "
                "'zero', 'none'."
            )
        if not (math.isfinite(self.hysteresis) and 0.0 <= self.hysteresis < 2.0):
            raise ValueError(
                f"NeuronParameters.hysteresis = {self.hysteresis!r} must lie in [0, 2)."
            )
        if not (isinstance(self.dt_sub, (int, float)) and 1e-16 < self.dt_sub < 1e-9):
            raise ValueError(
                f"NeuronParameters.dt_sub = {self.dt_sub!r} s must lie in "
                "(1e-16, 1e-9); 1e-12 (1 ps) is accurate for every preset."
            )
        if self.on_unstable not in ("warn", "raise"):
            raise ValueError(
                f"NeuronParameters.on_unstable = {self.on_unstable!r} is not one of "
                "'warn', 'raise'."
            )
        if self.backend not in ("eager", "fused"):
            raise ValueError(
                f"NeuronParameters.backend = {self.backend!r} is not one of 'eager', "
                "'fused'."
            )
        if not (0.0 <= self.rest_tilt <= 0.5):
            raise ValueError(
                f"NeuronParameters.rest_tilt = {self.rest_tilt!r} rad must lie in "
                "[0, 0.5]; it models a small thermal deviation from equilibrium."
            )
        if self.reset_angle is not None and not (0.0 <= self.reset_angle <= math.pi):
            raise ValueError(
                f"NeuronParameters.reset_angle = {self.reset_angle!r} rad must lie in "
                "[0, pi]."
            )
        if not isinstance(self.threshold, Tensor) and not (
            math.isfinite(self.threshold) and -1.0 < self.threshold < 1.0
        ):
            raise ValueError(
                f"NeuronParameters.threshold = {self.threshold!r} must lie in (-1, 1): "
                "the readout is a magnetization component. Typical values: 0.3 to 0.8."
            )


def default_surrogate() -> Callable[[Tensor], Tensor]:
    """snnTorch's arctangent surrogate (``snntorch.surrogate.atan``, alpha = 2)."""
    from snntorch import surrogate

    return surrogate.atan()


def readout(m: Tensor, p: SHNOParameters) -> Tensor:
    """Readout signal of magnetization ``m`` (shape ``(..., 3)``), shape ``(...)``.

    ``m . a`` for a linear readout, ``(m . a)^2`` for a magnetoresistive one.
    """
    a = torch.as_tensor(p.readout_axis, dtype=m.dtype, device=m.device)
    r = (m * a).sum(-1)
    return r * r if p.readout == "quadratic" else r


def rest_direction(
    p: SHNOParameters,
    neuron: NeuronParameters | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Tensor:
    """Rest direction of m: the zero-current equilibrium tilted by ``rest_tilt``.

    The equilibrium is found by relaxing at zero current
    (:func:`shno_neurons.llgs.equilibrium`); the tilt (``neuron.rest_tilt``, rad) turns
    it toward the readout axis, or toward the soft transverse axis when the readout is
    along the equilibrium. Shape ``(3,)``, or ``(N, 3)`` with per-neuron parameters.
    """
    neuron = neuron if neuron is not None else NeuronParameters()
    m0 = llgs.equilibrium(p, torch.float64, "cpu")
    if neuron.rest_tilt == 0.0:
        return m0.to(dtype=dtype, device=device)
    axis = torch.as_tensor(p.readout_axis, dtype=torch.float64)
    perp = axis - (m0 * axis).sum(-1, keepdim=True) * m0
    norm = torch.linalg.vector_norm(perp, dim=-1, keepdim=True)
    if bool((norm < 1e-6).any()):
        soft = torch.as_tensor(llgs._nominal(p).stiffness_fields().e1)
        perp = torch.where(norm < 1e-6, soft.expand_as(perp), perp)
        norm = torch.linalg.vector_norm(perp, dim=-1, keepdim=True)
    tilt = neuron.rest_tilt
    m = math.cos(tilt) * m0 + math.sin(tilt) * perp / norm
    return m.to(dtype=dtype, device=device)


def initial_state(
    shape: torch.Size | tuple[int, ...],
    p: SHNOParameters,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
    neuron: NeuronParameters | None = None,
    m_rest: Tensor | None = None,
) -> SHNOState:
    """The rest state: m along its rest direction, every neuron armed.

    Args:
        shape: shape of the input current (e.g. ``(B, N)``).
        p: device parameters; the equilibrium is found by relaxing at zero current.
        dtype: floating dtype of the state.
        device: device of the state.
        neuron: neuron settings (only ``rest_tilt`` is used here).
        m_rest: precomputed :func:`rest_direction`, shape broadcastable to
            ``shape + (3,)``; saves the relaxation.
    """
    if m_rest is None:
        m_rest = rest_direction(p, neuron, dtype, device)
    m = m_rest.to(dtype=dtype, device=device).expand(*shape, 3).clone()
    armed = torch.ones(shape, dtype=dtype, device=device)
    return SHNOState(m=m, armed=armed)


def _rearm_level(threshold: Tensor, hysteresis: float) -> Tensor:
    return threshold - hysteresis


def _substeps_eager(
    m: Tensor,
    armed: Tensor,
    j: Tensor,
    c: llgs.Coefficients,
    n_sub: int,
    h: float,
    method: Literal["rk4", "heun", "euler"],
    axis: Tensor,
    quadratic: bool,
    threshold: Tensor,
    rearm: Tensor,
    noisy: bool,
    generator: torch.Generator | None,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Reference substep loop; returns ``(m, armed, fired, u)``.

    ``fired`` is 1 where an armed neuron crossed ``threshold`` at some substep and
    ``u`` is the largest readout over the substeps (the surrogate's margin).
    """
    h_dl = c.a_dl * j.unsqueeze(-1)
    fired = torch.zeros_like(armed)
    u = torch.full_like(armed, -math.inf)
    for _ in range(n_sub):
        h_th = llgs._brown_field(m, c, h, generator) if noisy else None
        m = llgs.step(m, h_dl, c, h, method, h_th)

        # Readout, crossing detection and re-arming on this substep.
        r = (m * axis).sum(-1)
        if quadratic:
            r = r * r
        hit = armed * (r >= threshold).to(m.dtype)
        fired = torch.maximum(fired, hit)
        armed = torch.maximum(armed - hit, (r < rearm).to(m.dtype))
        u = torch.maximum(u, r)
    return m, armed, fired, u


def _rotate_toward(m: Tensor, target: Tensor, angle: Tensor) -> Tensor:
    """Rotate unit vectors ``m`` toward ``target`` by ``angle`` (not past it)."""
    cos_t = (m * target).sum(-1, keepdim=True).clamp(-1.0, 1.0)
    perp = target - cos_t * m
    sin_t = torch.linalg.vector_norm(perp, dim=-1, keepdim=True)
    phi = torch.minimum(angle, torch.atan2(sin_t, cos_t))
    direction = perp / sin_t.clamp_min(1e-12)
    return torch.cos(phi) * m + torch.sin(phi) * direction


def _validate_current(j: Tensor, state: SHNOState) -> None:
    if not torch.is_floating_point(j):
        raise TypeError(
            f"input_current must be a floating tensor (A/m^2), got dtype {j.dtype}."
        )
    if state.m.dtype != j.dtype:
        raise ValueError(
            f"input_current has dtype {j.dtype} but state.m has dtype "
            f"{state.m.dtype}; build the state with initial_state(..., dtype="
            f"{j.dtype}) or cast the current with .to({state.m.dtype})."
        )
    if state.m.shape != j.shape + (3,):
        raise ValueError(
            f"state.m has shape {tuple(state.m.shape)} but input_current has shape "
            f"{tuple(j.shape)}; expected state.m of shape {tuple(j.shape) + (3,)}. "
            "Reset the neuron (or build the state with initial_state) when the batch "
            "size or layer width changes."
        )


def _raise_non_finite(j: Tensor) -> None:
    bad = ~torch.isfinite(j.detach())
    raise ValueError(
        f"input_current has {int(bad.sum())} non-finite entries (NaN or inf) "
        f"out of {j.numel()}. Check the layer feeding the neuron."
    )


def _n_substeps(
    dt: float, neuron: NeuronParameters, p: SHNOParameters, j: Tensor, method: str
) -> int:
    """Substeps per network step: ``ceil(dt / dt_sub)``, more if the current demands."""
    n_sub = max(1, math.ceil(dt / neuron.dt_sub - 1e-9))
    if torch.compiler.is_compiling():
        return n_sub
    # One reduction serves both checks: a NaN or inf anywhere makes the maximum
    # non-finite.
    j_max = float(j.detach().abs().max()) if j.numel() else 0.0
    if not math.isfinite(j_max):
        _raise_non_finite(j)
    phase = p.max_field(j_max) * llgs._max_gamma(p) * dt / n_sub
    limit = llgs.substep_limit(method)
    if phase <= limit:
        return n_sub
    needed = math.ceil(n_sub * phase / limit)
    message = (
        f"a current density of {j_max:.3g} A/m^2 turns m by {phase:.2f} rad per "
        f"substep of {dt / n_sub:.3g} s, beyond the {method} stability limit of "
        f"{limit} rad."
    )
    if neuron.on_unstable == "raise" or needed > 1000 * n_sub:
        raise ValueError(
            message + f" Lower the current below {j_max * limit / phase:.3g} A/m^2 or "
            f"use dt_sub <= {dt / needed:.3g} s."
        )
    warnings.warn(
        message + f" The step was split into {needed} substeps to stay stable.",
        UserWarning,
        stacklevel=4,
    )
    return needed


def shno_step(
    input_current: Tensor,
    state: SHNOState,
    p: SHNOParameters,
    dt: float = 1e-10,
    neuron: NeuronParameters = NeuronParameters(),
    *,
    m_rest: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, SHNOState]:
    """One network time step of a layer of SHNO neurons.

    Args:
        input_current: charge current density in the heavy metal, A/m^2, any shape
            ``S`` (e.g. ``(B, N)``); held constant over the step.
        state: the neurons' state; ``state.m`` has shape ``S + (3,)``.
        p: device parameters (per-neuron tensors broadcast against the last
            dimension of ``S``).
        dt: network step, s (default 0.1 ns).
        neuron: spike rule, reset and integrator settings.
        m_rest: rest direction for the reset (:func:`rest_direction`), shape
            broadcastable to ``S + (3,)``; computed from ``p`` and ``neuron`` when
            omitted (the front-ends cache it).
        generator: random source for the thermal field, when ``p.temperature > 0``.

    Returns:
        ``(spikes, new_state)``: spikes of shape ``S`` (0 or 1, dtype of the state,
        with a surrogate gradient) and the state after the step and its reset.

    Raises:
        ValueError: non-finite currents (the message gives their count), a state whose
            shape does not match, or an unstable current with ``on_unstable="raise"``.
    """
    if not torch.compiler.is_compiling():
        _validate_current(input_current, state)
    j = input_current + neuron.j_bias
    m = state.m
    method = llgs.resolve_method(neuron.method, p)
    n_sub = _n_substeps(dt, neuron, p, j, method)
    h = dt / n_sub
    c = llgs.coefficients(p, m.dtype, m.device)
    axis = torch.as_tensor(p.readout_axis, dtype=m.dtype, device=m.device)
    quadratic = p.readout == "quadratic"
    threshold = torch.as_tensor(neuron.threshold, dtype=m.dtype, device=m.device)
    rearm = _rearm_level(threshold, neuron.hysteresis)
    noisy = llgs._is_noisy(p)

    # Substeps: integrate and watch for crossings (fused kernel or the reference).
    if neuron.backend == "fused":
        from .fused import substeps
    else:
        substeps = _substeps_eager
    m, armed, fired, u = substeps(
        m, state.armed, j, c, n_sub, h, method, axis, quadratic, threshold, rearm,
        noisy, generator,
    )  # fmt: skip

    # Spike with a surrogate gradient on the readout margin.
    surrogate = (
        neuron.surrogate if neuron.surrogate is not None else default_surrogate()
    )
    below = (u < threshold).to(m.dtype)
    mask = torch.maximum(fired, below).detach()
    spikes = surrogate(u - threshold) * mask

    # Reset, driven by the detached spike.
    if neuron.reset != "none":
        if m_rest is None:
            m_rest = rest_direction(p, neuron, m.dtype, m.device)
        s = spikes.detach().unsqueeze(-1)
        if neuron.reset == "zero":
            target = m_rest.expand_as(m)
        else:
            angle = _reset_angle(neuron, threshold, quadratic).unsqueeze(-1)
            target = _rotate_toward(m, m_rest.expand_as(m), angle)
        m = m + s * (target - m)
        m = m / torch.linalg.vector_norm(m, dim=-1, keepdim=True)
        r = (m * axis).sum(-1)
        if quadratic:
            r = r * r
        armed = torch.maximum(armed, (r < rearm).to(m.dtype))
    return spikes, SHNOState(m=m, armed=armed.detach())


def _reset_angle(
    neuron: NeuronParameters, threshold: Tensor, quadratic: bool
) -> Tensor:
    """Angle of the ``"subtract"`` reset, rad."""
    if neuron.reset_angle is not None:
        return torch.as_tensor(
            neuron.reset_angle, dtype=threshold.dtype, device=threshold.device
        )
    level = threshold.detach().abs().clamp(max=1.0)
    if quadratic:
        level = level.sqrt()
    return torch.asin(level)
