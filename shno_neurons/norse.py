"""The SHNO neuron as Norse modules: drop-ins for :class:`norse.torch.LIFCell` and
:class:`norse.torch.LIF`.

:class:`SHNOCell` advances one network step (a subclass of Norse's ``SNNCell``);
:class:`SHNO` runs a time-first sequence ``[T, B, ...]`` (a subclass of Norse's
``SNN``). Both follow Norse's conventions: the state is passed in and returned, never
kept; ``None`` starts from the rest state; the neuron's parameters live in a module
``p`` handed to a pure step function, :func:`shno_feed_forward_step`, which calls
:func:`shno_neurons.functional.shno_step`::

    import norse.torch as norse
    from shno_neurons.norse import SHNOCell

    model = norse.SequentialState(torch.nn.Linear(8, 4), SHNOCell(scale=3e12))
    z, state = model(x)                 # state: [None, SHNOState], one per layer

The surrogate gradient is chosen the Norse way, by the name of one of Norse's
threshold functions (``method="super"``, ``"tanh"``, ``"triangle"``, ``"circ"``,
``"heavi_erfc"``, ``"heaviside"``) and its ``alpha``, or by passing a callable.

Differences from Norse's LIF modules: ``dt`` is 0.1 ns, not 1 ms (the magnet precesses
at GHz; steps above 10 ns are refused); the threshold is a level of the readout
magnetization component (default 0.5), not a voltage; the device parameters are
float64 buffers that ``.to()`` moves and ``state_dict()`` saves (Norse's
``LIFParameters`` tuple does neither).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from norse.torch.functional.threshold import threshold as norse_threshold
from norse.torch.module.snn import SNN, SNNCell
from torch import Tensor, nn

from . import llgs
from ._frontend import (
    CurrentQuantities,
    DeviceParameters,
    check_dt,
    check_input,
    check_layer,
    check_state,
    check_threshold,
    picklable,
    register_currents,
    register_quantity,
    resolve_parameters,
    run_step,
)
from .functional import NeuronParameters, SHNOState, initial_state
from .parameters import SHNOParameters
from .presets import NIFE_PT

__all__ = ["SHNOCell", "SHNO", "SHNOCellParameters", "shno_feed_forward_step"]

#: Norse's threshold functions (:func:`norse.torch.functional.threshold.threshold`).
NORSE_METHODS = ("super", "tanh", "triangle", "circ", "heavi_erfc", "heaviside")


class SHNOCellParameters(CurrentQuantities, nn.Module):
    """Everything :func:`shno_feed_forward_step` needs, as a module (Norse's ``p``).

    Args:
        p: device parameters or a preset name.
        neuron: spike rule and integrator settings. Its ``threshold`` and ``j_bias``
            become tensors here; its ``surrogate``, when set, is used as the spike
            function (then ``method`` must stay at its default).
        method: name of a Norse threshold function, or a callable mapping the readout
            margin ``u - threshold`` to spikes with a surrogate gradient.
        alpha: sharpness of the Norse threshold function. The margin is a
            magnetization component (order 0.1 to 1), not a membrane voltage: with
            ``"tanh"``, ``"circ"`` or ``"heavi_erfc"`` values of 5 to 20 keep a useful
            gradient. Norse 1.1's ``"super"`` ignores it.
        scale: current density per unit of input, A/m^2; None: inputs are A/m^2.
        learn_threshold: make ``threshold`` an ``nn.Parameter``.
        learn_j_bias: learn the bias current density ``neuron.j_bias``.
        learn_scale: learn the scale.
        current_unit: unit in which ``j_bias`` and ``scale`` are stored, A/m^2;
            None: the device's threshold current density j_c.

    Attributes:
        params: the device as float64 buffers
            (:class:`~shno_neurons._frontend.DeviceParameters`).
        threshold: readout threshold (buffer or parameter).
        bias: ``j_bias / current_unit`` (buffer or parameter; in SI units an
            optimiser could not move it).
        gain: ``scale / current_unit``, or None.
        j_bias: the bias in A/m^2 (read-only, from ``bias``).
        scale: the scale in A/m^2 per input unit, or None (read-only, from ``gain``).
        surrogate: the spike function.
    """

    def __init__(
        self,
        p: SHNOParameters | str = NIFE_PT,
        neuron: NeuronParameters = NeuronParameters(),
        method: str | Callable[[Tensor], Tensor] = "super",
        alpha: float = 100.0,
        scale: float | Tensor | None = None,
        learn_threshold: bool = False,
        learn_j_bias: bool = False,
        learn_scale: bool = False,
        current_unit: float | None = None,
    ) -> None:
        super().__init__()
        p = resolve_parameters(p)
        if not isinstance(neuron, NeuronParameters):
            raise TypeError(
                "neuron must be a shno_neurons.NeuronParameters, got "
                f"{type(neuron).__name__}."
            )
        check_threshold(neuron.threshold, p)
        llgs.resolve_method(neuron.method, p)
        self.params = DeviceParameters(p, neuron.rest_tilt, current_unit)
        register_quantity(self, "threshold", neuron.threshold, learn_threshold)
        unit = float(self.params.current_unit)
        register_currents(self, unit, neuron.j_bias, learn_j_bias, scale, learn_scale)
        self.surrogate = _surrogate(method, alpha, neuron.surrogate)
        self.method = method if isinstance(method, str) else "callable"
        self.alpha = float(alpha)
        self.settings = neuron

    def extra_repr(self) -> str:
        return (
            f"method={self.method!r}, alpha={self.alpha:g}, "
            f"reset={self.settings.reset!r}, dt_sub={self.settings.dt_sub:g}"
        )


def _surrogate(
    method: str | Callable[[Tensor], Tensor],
    alpha: float,
    from_neuron: Callable[[Tensor], Tensor] | None,
) -> Callable[[Tensor], Tensor]:
    if from_neuron is not None:
        if method != "super":
            raise ValueError(
                f"the surrogate is given twice: neuron.surrogate = {from_neuron!r} and "
                f"method = {method!r}. Pass it once."
            )
        return picklable(from_neuron)
    if callable(method):
        return picklable(method)
    if method not in NORSE_METHODS:
        raise ValueError(
            f"method = {method!r} is not one of Norse's threshold functions "
            f"{NORSE_METHODS}; pass one of them or a callable."
        )
    return functools.partial(norse_threshold, method=method, alpha=float(alpha))


def shno_feed_forward_step(
    input_tensor: Tensor,
    state: SHNOState,
    p: SHNOCellParameters,
    dt: float = 1e-10,
) -> tuple[Tensor, SHNOState]:
    """One network step of a layer of SHNO neurons, in Norse's activation signature.

    Args:
        input_tensor: input, any shape ``S``: a current density in A/m^2, or input
            units multiplied by ``p.scale``; float32 or float64.
        state: the neurons' state, ``m`` of shape ``S + (3,)`` in the input's dtype.
        p: the neuron's parameters.
        dt: network step, s.

    Returns:
        ``(z, state)``: spikes of shape ``S`` (0 or 1, with a surrogate gradient) and
        the new state.
    """
    check_input(input_tensor, "input_tensor")
    check_layer(input_tensor, p.params, p.threshold, p.bias, p.gain)
    state = check_state(state, input_tensor)
    return run_step(
        input_tensor,
        state,
        p.params,
        p.settings,
        threshold=p.threshold,
        j_bias=p.j_bias,
        surrogate=p.surrogate,
        scale=p.scale,
        dt=dt,
    )


def _rest_state(p: SHNOCellParameters, like: Tensor, shape: torch.Size) -> SHNOState:
    check_layer(like.new_empty(shape), p.params, p.threshold, p.bias, p.gain)
    return initial_state(
        shape,
        p.params.shno_parameters(checked=False),
        like.dtype,
        like.device,
        m_rest=p.params.m_rest,
    )


class SHNOCell(SNNCell):
    r"""One network step of a layer of SHNO neurons, without time (like ``LIFCell``).

    Each input element drives one macrospin (:mod:`shno_neurons.llgs`) with the
    current density :math:`j = \mathrm{scale} \cdot x + j_\mathrm{bias}` (A/m^2) for one
    step ``dt``; the neuron fires when its readout crosses the threshold at any
    substep (:mod:`shno_neurons.functional`).

    Example:
        >>> cell = SHNOCell(scale=3e12)
        >>> z, s = cell(torch.ones(5, 2))   # s is an SHNOState; s.m is (5, 2, 3)

    Args:
        p: device parameters (:class:`~shno_neurons.SHNOParameters`) or a preset name.
        neuron: spike rule, reset and integrator settings
            (:class:`~shno_neurons.NeuronParameters`).
        dt: network step, s (default 0.1 ns; Norse's 1 ms has no meaning here).
        method: Norse threshold function name or callable (surrogate gradient).
        alpha: its sharpness (see :class:`SHNOCellParameters`).
        scale: current density per unit of input, A/m^2; None: inputs are A/m^2.
        learn_threshold: learnable threshold.
        learn_j_bias: learnable bias current density.
        learn_scale: learnable scale.
        current_unit: storage unit of ``j_bias`` and ``scale``, A/m^2 (default j_c).
    """

    def __init__(
        self,
        p: SHNOParameters | str = NIFE_PT,
        neuron: NeuronParameters = NeuronParameters(),
        *,
        dt: float = 1e-10,
        method: str | Callable[[Tensor], Tensor] = "super",
        alpha: float = 100.0,
        scale: float | Tensor | None = None,
        learn_threshold: bool = False,
        learn_j_bias: bool = False,
        learn_scale: bool = False,
        current_unit: float | None = None,
    ) -> None:
        super().__init__(
            activation=shno_feed_forward_step,
            state_fallback=self.initial_state,
            p=SHNOCellParameters(
                p,
                neuron,
                method,
                alpha,
                scale,
                learn_threshold,
                learn_j_bias,
                learn_scale,
                current_unit,
            ),
            dt=check_dt(dt),
        )

    def initial_state(self, input_tensor: Tensor) -> SHNOState:
        """The rest state for ``input_tensor`` (its shape, dtype and device)."""
        check_input(input_tensor, "input_tensor")
        return _rest_state(self.p, input_tensor, input_tensor.shape)

    def extra_repr(self) -> str:
        return f"dt={self.dt:g}"


class SHNO(SNN):
    """A layer of SHNO neurons over a time-first sequence (like Norse's ``LIF``).

    Input ``[T, B, ...]``; returns the spikes ``[T, B, ...]`` and the final
    :class:`~shno_neurons.functional.SHNOState`, or with ``record_states=True`` the
    states of every step stacked field by field (``m``: ``[T, B, ..., 3]``).

    Example:
        >>> layer = SHNO(scale=3e12)
        >>> z, s = layer(torch.ones(10, 5, 2))   # z: (10, 5, 2)

    Takes the arguments of :class:`SHNOCell` (``p``, ``neuron``, ``dt``, ``method``,
    ``alpha``, ``scale``, ``learn_threshold``, ``learn_j_bias``, ``learn_scale``,
    ``current_unit``) and one more.

    Args:
        record_states: return the state of every step instead of the last one.
    """

    def __init__(
        self,
        p: SHNOParameters | str = NIFE_PT,
        neuron: NeuronParameters = NeuronParameters(),
        *,
        dt: float = 1e-10,
        method: str | Callable[[Tensor], Tensor] = "super",
        alpha: float = 100.0,
        scale: float | Tensor | None = None,
        learn_threshold: bool = False,
        learn_j_bias: bool = False,
        learn_scale: bool = False,
        current_unit: float | None = None,
        record_states: bool = False,
    ) -> None:
        super().__init__(
            activation=shno_feed_forward_step,
            state_fallback=self.initial_state,
            p=SHNOCellParameters(
                p,
                neuron,
                method,
                alpha,
                scale,
                learn_threshold,
                learn_j_bias,
                learn_scale,
                current_unit,
            ),
            dt=check_dt(dt),
            record_states=record_states,
        )

    def initial_state(self, input_tensor: Tensor) -> SHNOState:
        """The rest state for one step of the time-first ``input_tensor``."""
        check_input(input_tensor, "input_tensor")
        if input_tensor.dim() < 2:
            raise ValueError(
                f"SHNO expects a time-first input [T, B, ...], got shape "
                f"{tuple(input_tensor.shape)}; use SHNOCell for a single step."
            )
        return _rest_state(self.p, input_tensor, input_tensor.shape[1:])

    def extra_repr(self) -> str:
        return f"dt={self.dt:g}, record_states={self.record_states}"
