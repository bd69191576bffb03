"""The SHNO neuron as an snnTorch neuron: a drop-in for :class:`snntorch.Leaky`.

:class:`SHNO` subclasses :class:`snntorch.SpikingNeuron`, takes its arguments with
their snnTorch meanings and follows snnTorch's calling conventions::

    import snntorch as snn
    from shno_neurons.snntorch import SHNO

    lif = snn.Leaky(beta=0.9)                    # before
    shno = SHNO(scale=3e12)                      # after: inputs of order 1 -> A/m^2
    spk, state = shno(x)                         # (spk, state) by default
    net = nn.Sequential(nn.Linear(8, 4), SHNO(scale=3e12, init_hidden=True))

Each call advances the LLGS dynamics by one network step ``dt`` through
:func:`shno_neurons.functional.shno_step`; the spike rule, the surrogate gradient on
the readout margin and the physical meaning of the resets are described there.

Differences from :class:`snntorch.Leaky`:

* ``threshold`` defaults to 0.5, not 1.0: the readout is a magnetization component
  (``m . a``, or its square), so it lies in [-1, 1] and a threshold of 1 would never
  be crossed.
* The state is an :class:`~shno_neurons.functional.SHNOState` ``(m, armed)``, not a
  membrane potential. The hidden state starts at the device's rest direction, is
  shaped by the first input and then kept: a change of batch size within a sequence
  raises an error instead of silently starting over; call :meth:`SHNO.reset_hidden` (or
  :func:`shno_neurons.reset`) between sequences.
* ``reset_hidden`` and ``detach_hidden`` act on this neuron only. The neuron does not
  enter snnTorch's class-wide ``SpikingNeuron.instances`` registry, so snnTorch's
  class-level resets never touch it and it never keeps a model alive.

Known shortcomings: the helpers inherited from ``SpikingNeuron`` that take a membrane
potential (``fire``, ``fire_inhibition``, ``mem_reset``) do not apply to a
magnetization and are not used; the thermal field (``temperature > 0``) draws from
PyTorch's global generator, since ``forward`` takes no ``generator`` (seed with
``torch.manual_seed``; call :func:`~shno_neurons.functional.shno_step` directly for a
private stream).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import torch
from snntorch import SpikingNeuron
from torch import Tensor

from . import llgs
from ._frontend import (
    CurrentQuantities,
    DeviceParameters,
    check_dt,
    check_input,
    check_layer,
    check_state,
    check_threshold,
    heaviside,
    picklable,
    register_currents,
    resolve_parameters,
    run_step,
)
from .functional import NeuronParameters, SHNOState, initial_state
from .parameters import SHNOParameters
from .presets import NIFE_PT

__all__ = ["SHNO"]


class SHNO(CurrentQuantities, SpikingNeuron):
    r"""A layer of spin Hall nano-oscillator neurons with snnTorch's interface.

    Every element of the input drives one macrospin (equation in
    :mod:`shno_neurons.llgs`) with the current density

    .. math::

        j = \mathrm{scale} \cdot x + j_\mathrm{bias} \quad [\mathrm{A/m^2}]

    held for one network step ``dt``. The neuron fires when its readout crosses
    ``threshold`` at any integrator substep (:mod:`shno_neurons.functional`).

    Args:
        threshold: readout level that fires a spike, dimensionless, in (-1, 1)
            ((0, 1) for a quadratic readout); float or tensor of shape ``(N,)``.
            Defaults to 0.5 (not Leaky's 1.0: the readout is a magnetization
            component).
        spike_grad: surrogate gradient, any ``snntorch.surrogate`` function (or any
            callable mapping the readout margin to spikes); None uses snnTorch's
            ``atan()``.
        surrogate_disable: spikes without a gradient (Heaviside), as in snnTorch.
        init_hidden: keep the state inside the module and return only the spikes.
        inhibition: only the neuron with the largest readout margin along dimension 1
            may fire at each step (snnTorch warns that this is experimental). The
            losers are not reset but, having crossed, wait to re-arm.
        learn_threshold: make ``threshold`` an ``nn.Parameter``.
        reset_mechanism: ``"subtract"`` (rotate m back toward rest by a fixed angle: a
            calibrated reset pulse), ``"zero"`` (m returns to its rest direction) or
            ``"none"`` (m relaxes by its own damping); see
            :mod:`shno_neurons.functional`.
        state_quant: quantizer applied to the stored magnetization between steps
            (e.g. ``snntorch.functional.quant.state_quant``); m is renormalised after
            it. Spikes inside a step are detected on the unquantized trajectory.
        output: with ``init_hidden=True``, return ``(spk, state)`` as well.
        graded_spikes_factor: spikes are multiplied by this value.
        learn_graded_spikes_factor: make ``graded_spikes_factor`` an
            ``nn.Parameter``.
        params: device parameters, an :class:`~shno_neurons.SHNOParameters` or a
            preset name (:data:`shno_neurons.presets.PRESETS`); per-neuron tensors of
            shape ``(N,)`` broadcast against the last input dimension. Held as float64
            buffers in :attr:`params`.
        dt: network step, s (default 0.1 ns).
        dt_sub: integrator substep, s (default 1 ps).
        hysteresis: re-arm margin below threshold (NeuronParameters).
        reset_angle: rotation of the ``"subtract"`` reset, rad; None: the angle at
            which the readout equals the threshold.
        method: integrator, ``"auto"``, ``"rk4"``, ``"heun"`` or ``"euler"``.
        on_unstable: ``"warn"`` or ``"raise"`` for a current too large for ``dt_sub``.
        backend: ``"eager"`` or ``"fused"`` substep loop.
        rest_tilt: tilt of the rest direction from equilibrium, rad.
        j_bias: DC current density added to the input, A/m^2; float or tensor
            ``(N,)``.
        learn_j_bias: learn the bias current density.
        scale: current density per unit of input, A/m^2; float or tensor ``(N,)``.
            None (the default) means the inputs already are current densities in
            A/m^2. For inputs of order one, a few times the device's threshold
            current density ``params.threshold_current_density()`` is a good start.
        learn_scale: learn the scale.
        current_unit: unit in which ``j_bias`` and ``scale`` are stored, A/m^2;
            None: the device's threshold current density j_c.

    Attributes:
        params: the device (:class:`~shno_neurons._frontend.DeviceParameters`).
        bias: ``j_bias / current_unit``, dimensionless; a buffer, or an
            ``nn.Parameter`` with ``learn_j_bias`` (SI values of order 1e12 A/m^2 with
            gradients of order 1e-12 would be out of reach of an optimiser).
        gain: ``scale / current_unit``, A/m^2 per input unit over A/m^2; None
            without a scale.
        j_bias: the bias current density in A/m^2 (read-only, from ``bias``).
        scale: the scale in A/m^2 per input unit, or None (read-only, from ``gain``).
        m, armed: the hidden state (None after a reset).

    Inputs: ``input_``, ``state``
        - **input_** of shape ``(batch, ...)``: currents (A/m^2, or input units with
          ``scale``), float32 or float64.
        - **state** (optional): an :class:`~shno_neurons.functional.SHNOState` from a
          previous call; None continues from the hidden state (the rest state after
          a reset). Passing a state with ``init_hidden=True`` is a TypeError.

    Outputs: ``spk``, ``state``
        - **spk** of the input's shape and the state's dtype: 0 or
          ``graded_spikes_factor``.
        - **state**: the new :class:`~shno_neurons.functional.SHNOState`, ``m`` of
          shape ``input_.shape + (3,)``; returned unless ``init_hidden=True`` and
          ``output=False``.

    Example:
        >>> import torch
        >>> from shno_neurons.snntorch import SHNO
        >>> shno = SHNO(scale=3e12)
        >>> x = torch.ones(2, 4)
        >>> for _ in range(10):
        ...     spk, state = shno(x)
        >>> state.m.shape
        torch.Size([2, 4, 3])
    """

    def __init__(
        self,
        threshold: float | Tensor = 0.5,
        spike_grad: Callable[[Tensor], Tensor] | None = None,
        surrogate_disable: bool = False,
        init_hidden: bool = False,
        inhibition: bool = False,
        learn_threshold: bool = False,
        reset_mechanism: str = "subtract",
        state_quant: Callable[[Tensor], Tensor] | bool = False,
        output: bool = False,
        graded_spikes_factor: float | Tensor = 1.0,
        learn_graded_spikes_factor: bool = False,
        *,
        params: SHNOParameters | str = NIFE_PT,
        dt: float = 1e-10,
        dt_sub: float = 1e-12,
        hysteresis: float = 0.0,
        reset_angle: float | None = None,
        method: llgs.Method = "auto",
        on_unstable: str = "warn",
        backend: str = "eager",
        rest_tilt: float = 0.03,
        j_bias: float | Tensor = 0.0,
        learn_j_bias: bool = False,
        scale: float | Tensor | None = None,
        learn_scale: bool = False,
        current_unit: float | None = None,
    ) -> None:
        # Validate everything before building anything (the boundary).
        p = resolve_parameters(params)
        check_threshold(threshold, p)
        dt = check_dt(dt)
        if spike_grad is not None and not callable(spike_grad):
            raise TypeError(
                f"spike_grad must be a surrogate function such as "
                f"snntorch.surrogate.atan(), got {type(spike_grad).__name__}."
            )
        if state_quant is not False and not callable(state_quant):
            raise TypeError(
                "state_quant must be False or a quantizer such as "
                "snntorch.functional.quant.state_quant(num_bits=8), got "
                f"{type(state_quant).__name__}."
            )
        if reset_mechanism not in SpikingNeuron.reset_dict:
            raise ValueError(
                f"reset_mechanism = {reset_mechanism!r} is not one of 'subtract', "
                "'zero', 'none' (their physical meanings are in "
                "shno_neurons.functional)."
            )
        settings = NeuronParameters(
            threshold=0.5,
            hysteresis=hysteresis,
            reset=reset_mechanism,
            reset_angle=reset_angle,
            dt_sub=dt_sub,
            method=method,
            on_unstable=on_unstable,
            backend=backend,
            rest_tilt=rest_tilt,
        )
        llgs.resolve_method(method, p)

        super().__init__(
            threshold=threshold,
            spike_grad=spike_grad,
            surrogate_disable=surrogate_disable,
            init_hidden=init_hidden,
            inhibition=inhibition,
            learn_threshold=learn_threshold,
            reset_mechanism=reset_mechanism,
            state_quant=state_quant,
            output=output,
            graded_spikes_factor=graded_spikes_factor,
            learn_graded_spikes_factor=learn_graded_spikes_factor,
        )
        _leave_registry(self)
        # snnTorch's bypass returns float32 whatever the input; ours keeps the dtype.
        self.spike_grad = picklable(heaviside if surrogate_disable else self.spike_grad)
        self.state_quant = picklable(state_quant) if state_quant else False

        self.params = DeviceParameters(p, settings.rest_tilt, current_unit)
        unit = float(self.params.current_unit)
        register_currents(self, unit, j_bias, learn_j_bias, scale, learn_scale)
        self.dt = dt
        self._settings = settings
        self.register_buffer("m", None, persistent=False)
        self.register_buffer("armed", None, persistent=False)
        self.register_load_state_dict_post_hook(_sync_reset_mechanism)

    @classmethod
    def from_parameters(
        cls,
        params: SHNOParameters | str,
        neuron: NeuronParameters,
        dt: float = 1e-10,
        **kwargs: Any,
    ) -> SHNO:
        """Build from the core's containers (``shno_step``'s arguments).

        Args:
            params: device parameters or a preset name.
            neuron: spike rule and integrator settings; ``threshold``, ``reset`` and
                ``surrogate`` become ``threshold``, ``reset_mechanism`` and
                ``spike_grad``.
            dt: network step, s.
            **kwargs: further arguments of :class:`SHNO` (``init_hidden``, ``scale``,
                ...).
        """
        return cls(
            threshold=neuron.threshold,
            spike_grad=neuron.surrogate,
            reset_mechanism=neuron.reset,
            params=params,
            dt=dt,
            dt_sub=neuron.dt_sub,
            hysteresis=neuron.hysteresis,
            reset_angle=neuron.reset_angle,
            method=neuron.method,
            on_unstable=neuron.on_unstable,
            backend=neuron.backend,
            rest_tilt=neuron.rest_tilt,
            j_bias=neuron.j_bias,
            **kwargs,
        )

    # ------------------------------------------------------------------ state
    @property
    def state(self) -> SHNOState | None:
        """The hidden state, or None before the first call after a reset."""
        if self.m is None:
            return None
        return SHNOState(self.m, self.armed)

    def reset_hidden(self) -> None:
        """Forget the hidden state of this neuron; the next call starts from rest.

        Unlike snnTorch's class-level ``reset_hidden``, this touches no other neuron.
        """
        self.m = None
        self.armed = None

    def detach_hidden(self) -> None:
        """Cut the hidden state from the autograd graph (truncated BPTT), this neuron
        only. The values are kept."""
        if self.m is not None:
            self.m = self.m.detach()
            self.armed = self.armed.detach()

    def reset(self) -> None:
        """Same as :meth:`reset_hidden`; lets SpikingJelly's
        ``functional.reset_net`` reset this neuron."""
        self.reset_hidden()

    def reset_mem(self) -> None:
        """Reset the hidden state, snnTorch's name; returns None, the state argument
        that starts the next call from rest (the state is shaped by its input)."""
        self.reset_hidden()

    def __getstate__(self) -> dict[str, Any]:
        # The hidden state may sit in an autograd graph, which deepcopy refuses to
        # copy; copies and pickles keep its values.
        state = super().__getstate__()
        buffers = type(state["_buffers"])(state["_buffers"])
        for name in ("m", "armed"):
            if buffers.get(name) is not None:
                buffers[name] = buffers[name].detach()
        state["_buffers"] = buffers
        return state

    def _hidden_state(self, x: Tensor) -> SHNOState:
        if self.m is None:
            return initial_state(
                x.shape,
                self.params.shno_parameters(checked=False),
                x.dtype,
                x.device,
                m_rest=self.params.m_rest,
            )
        if self.m.shape[:-1] != x.shape:
            raise ValueError(
                f"SHNO got an input of shape {tuple(x.shape)} but its hidden state "
                f"holds neurons of shape {tuple(self.m.shape[:-1])} from the previous "
                "step: the batch size or layer width changed within a sequence. Call "
                "reset_hidden() on the neuron (or shno_neurons.reset(net)) before a "
                "new sequence; any batch size works after a reset."
            )
        if self.m.dtype != x.dtype or self.m.device != x.device:
            raise ValueError(
                f"SHNO got a {x.dtype} input on {x.device} but its hidden state is "
                f"{self.m.dtype} on {self.m.device}. Call reset_hidden() after moving "
                "or casting the input."
            )
        return SHNOState(self.m, self.armed)

    # ---------------------------------------------------------------- forward
    def forward(
        self, input_: Tensor, state: SHNOState | None = None
    ) -> Tensor | tuple[Tensor, SHNOState]:
        if state is not None and self.init_hidden:
            raise TypeError(
                "`state` should not be passed as an argument while `init_hidden=True`"
            )
        check_input(input_, "input_")
        if self.inhibition and input_.dim() < 2:
            raise ValueError(
                f"inhibition=True needs an input of shape (batch, neurons, ...), got "
                f"shape {tuple(input_.shape)}."
            )
        check_layer(input_, self.params, self.threshold, self.bias, self.gain)
        state = check_state(state, input_) if state is not None else None
        if state is None:
            state = self._hidden_state(input_)

        spike_fn = self.spike_grad
        if self.inhibition:
            spike_fn = functools.partial(_winner_take_all, spike_fn=spike_fn)
        spk, state = run_step(
            input_,
            state,
            self.params,
            self._settings,
            threshold=self.threshold,
            j_bias=self.j_bias,
            surrogate=spike_fn,
            scale=self.scale,
            dt=self.dt,
            reset=self.reset_mechanism,
        )
        if self.state_quant:
            state = state._replace(m=_quantize(state.m, self.state_quant))
        spk = spk * self.graded_spikes_factor.to(spk.dtype)

        self.m, self.armed = state
        if self.output:
            return spk, state
        if self.init_hidden:
            return spk
        return spk, state

    def extra_repr(self) -> str:
        scale = "None" if self.scale is None else _show(self.scale)
        return (
            f"threshold={_show(self.threshold)}, "
            f"reset_mechanism={self.reset_mechanism!r}, dt={self.dt:g}, "
            f"dt_sub={self._settings.dt_sub:g}, j_bias={_show(self.j_bias)}, "
            f"scale={scale}, init_hidden={self.init_hidden}"
        )


def _show(t: Tensor) -> str:
    return f"{float(t.detach()):.4g}" if t.numel() == 1 else f"tensor{tuple(t.shape)}"


def _leave_registry(neuron: SpikingNeuron) -> None:
    """Undo ``SpikingNeuron.__init__``'s append to the class-wide instance list.

    The list keeps every neuron alive and is what snnTorch's class-level
    ``reset_hidden``/``detach_hidden`` iterate; this neuron keeps its state to itself.
    """
    registry = SpikingNeuron.instances
    for i in range(len(registry) - 1, -1, -1):
        if registry[i] is neuron:
            del registry[i]
            return


def _winner_take_all(x: Tensor, spike_fn: Callable[[Tensor], Tensor]) -> Tensor:
    """Spikes only for the largest margin along dimension 1 (snnTorch inhibition)."""
    winner = x.argmax(dim=1, keepdim=True)
    mask = torch.zeros_like(x).scatter_(1, winner, 1.0)
    return spike_fn(x) * mask


def _quantize(m: Tensor, quantizer: Callable[[Tensor], Tensor]) -> Tensor:
    """Quantize the magnetization components and put m back on the unit sphere."""
    mq = quantizer(m).to(m.dtype)  # snnTorch's levels are float32
    return mq / torch.linalg.vector_norm(mq, dim=-1, keepdim=True).clamp_min(
        math.ulp(1.0)
    )


def _sync_reset_mechanism(module: SHNO, incompatible_keys: Any) -> None:
    # A loaded ``reset_mechanism_val`` buffer decides the reset, as in snnTorch.
    names = list(SpikingNeuron.reset_dict)
    module._reset_mechanism = names[int(module.reset_mechanism_val)]
