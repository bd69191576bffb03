"""LIF baselines for the hybrid classifier: snnTorch's ``Leaky``, Norse's ``LIFCell``.

Each block follows the spiking-block contract of :mod:`shno_neurons.adapters.models`
(``n``, ``steps``, ``forward(features [B, n]) -> BlockOutput(spikes, trace)``), so
:func:`~shno_neurons.adapters.models.build_model` swaps the spiking layer and keeps
everything else. Importing this module registers the kinds ``"leaky"`` and ``"lif"``.

Input mapping. The SHNO block drives its neurons with ``j = j_c (a x + b)``: a
learnable per-neuron scale ``a`` and bias ``b`` in units of the device's threshold
current ``j_c``. The baselines use the same map in units of their own *rheobase*, the
smallest constant input that ever fires the neuron, so that ``scale_init`` and
``bias_init`` put every kind at the same operating point (a few times threshold) and
the spiking layer has the same two parameters per neuron whatever its kind:

* snnTorch ``Leaky`` integrates ``U[t+1] = beta U[t] + I - S[t] U_thr``; a constant
  input settles at ``I / (1 - beta)``, so the rheobase is ``(1 - beta) U_thr``.
* Norse ``LIFCell`` (forward Euler, step ``dt``) adds the input to its synaptic
  current ``i`` each step, which then decays by ``1 - dt tau_syn_inv``; a constant input
  ``x`` settles at ``i = x / (dt tau_syn_inv)`` and ``v = v_leak + i``, so the rheobase
  is ``(v_th - v_leak) dt tau_syn_inv``.

Parameters, as the frameworks' tutorials choose them:

* ``Leaky``: ``beta = config.lif_beta`` and ``threshold = config.lif_threshold``,
  subtractive reset, the snnTorch ``atan`` surrogate (snnTorch's default and the one
  its tutorials 5 and 6 train with; the classifier passes its configured surrogate,
  the same one the SHNO neuron uses). snnTorch's tutorials use ``beta = 0.95``,
  ``threshold = 1``; the comparison (:mod:`shno_neurons.adapters.compare`) sets that
  ``beta``.
* ``LIFCell``: Norse's :class:`~norse.torch.LIFParameters` defaults
  (``tau_syn_inv = 200 1/s``, ``tau_mem_inv = 100 1/s``, ``v_leak = 0``,
  ``v_reset = 0``, the ``"super"`` surrogate with ``alpha = 100``) with
  ``v_th = config.lif_threshold`` (Norse's default is 1) and Norse's default step
  ``dt = 1e-3 s``: Norse's own surrogate, as its tutorials train with.

Neither LIF model has physical units tied to the SHNO's: ``Leaky`` counts steps, Norse
counts 1 ms steps, the SHNO takes 0.1 ns steps. The comparison is of networks at the
same number of steps and the same drive relative to threshold.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .models import (
    BlockOutput,
    CurrentMapping,
    ModelConfig,
    _surrogate,
    register_block,
)

__all__ = [
    "DriveMapping",
    "LeakyBlock",
    "LIFCellBlock",
    "leaky_rheobase",
    "lif_rheobase",
    "NORSE_DT",
]

#: Norse's default integration step for LIFCell, s (``norse.torch.LIFCell(dt=...)``).
NORSE_DT = 1e-3


def leaky_rheobase(beta: float, threshold: float) -> float:
    """Smallest constant input that fires ``snntorch.Leaky``: ``(1 - beta) U_thr``."""
    return (1.0 - beta) * threshold


def lif_rheobase(p, dt: float = NORSE_DT) -> float:
    """Smallest constant input that fires Norse's ``LIFCell`` with parameters ``p``.

    ``(v_th - v_leak) dt tau_syn_inv`` (module docstring).
    """
    return float((p.v_th - p.v_leak) * dt * p.tau_syn_inv)


class DriveMapping(CurrentMapping):
    """Features to a LIF neuron's input, ``I = I_rh (a x + b) g(t)``.

    The same affine map, modulation and parameters as the SHNO block's
    :class:`~shno_neurons.adapters.models.CurrentMapping`, in units of the LIF
    neuron's rheobase ``I_rh`` (dimensionless) instead of ``j_c`` (A/m^2); no clamp.

    Args:
        n: neurons.
        rheobase: the neuron's rheobase, in its own input units.
        dt: network step used by the modulation ``g(t)``, s (the SHNO's, so every
            kind sees the same per-step modulation).
        scale_init: initial scale, rheobases per unit feature.
        bias_init: initial bias, rheobases.
        learn_scale: whether the scale is a parameter.
        learn_bias: whether the bias is a parameter.
        modulation: ``(A_slow, f_slow, A_fast, f_fast)``, as for the SHNO.
    """

    def __init__(
        self,
        n: int,
        rheobase: float,
        dt: float = 1e-10,
        scale_init: float = 1.5,
        bias_init: float = 3.0,
        learn_scale: bool = True,
        learn_bias: bool = True,
        modulation: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0),
    ) -> None:
        super().__init__(
            n,
            rheobase,
            1.0,
            dt,
            scale_init,
            bias_init,
            learn_scale,
            learn_bias,
            math.inf,
            modulation,
        )

    @property
    def rheobase(self) -> float:
        """The unit of the drive (the neuron's rheobase)."""
        return self.j_c

    def extra_repr(self) -> str:
        return f"rheobase={self.rheobase:.4g}"


def _mapping(config: ModelConfig, rheobase: float) -> DriveMapping:
    return DriveMapping(
        config.n_neurons,
        rheobase,
        config.dt,
        config.scale_init,
        config.bias_init,
        config.learn_scale,
        config.learn_bias,
        (
            config.mod_slow_amp,
            config.mod_slow_freq,
            config.mod_fast_amp,
            config.mod_fast_freq,
        ),
    )


class LeakyBlock(nn.Module):
    """A layer of ``snntorch.Leaky`` neurons behind a :class:`DriveMapping`.

    Args:
        mapping: features to input.
        neuron: the ``snntorch.Leaky`` module (``init_hidden=False``).
        steps: network steps ``T``.
    """

    def __init__(self, mapping: DriveMapping, neuron: nn.Module, steps: int) -> None:
        super().__init__()
        self.mapping = mapping
        self.neuron = neuron
        self.n = int(mapping.scale.shape[0])
        self.steps = int(steps)

    def forward(self, features: Tensor) -> BlockOutput:
        """Spikes and membrane potential, each ``[T, B, n]``, from ``[B, n]``."""
        mem = torch.zeros_like(features)
        spikes, trace = [], []
        for t in range(self.steps):
            spk, mem = self.neuron(self.mapping(features, t), mem)
            spikes.append(spk)
            trace.append(mem)
        return BlockOutput(torch.stack(spikes), torch.stack(trace))


class LIFCellBlock(nn.Module):
    """A layer of Norse ``LIFCell`` neurons behind a :class:`DriveMapping`.

    Args:
        mapping: features to input.
        neuron: the ``norse.torch.LIFCell`` module.
        steps: network steps ``T``.
    """

    def __init__(self, mapping: DriveMapping, neuron: nn.Module, steps: int) -> None:
        super().__init__()
        self.mapping = mapping
        self.neuron = neuron
        self.n = int(mapping.scale.shape[0])
        self.steps = int(steps)

    def forward(self, features: Tensor) -> BlockOutput:
        """Spikes and membrane potential ``v``, each ``[T, B, n]``, from ``[B, n]``."""
        state = None
        spikes, trace = [], []
        for t in range(self.steps):
            z, state = self.neuron(self.mapping(features, t), state)
            spikes.append(z)
            trace.append(state.v.expand_as(z))
        return BlockOutput(torch.stack(spikes), torch.stack(trace))


def _leaky_block(config: ModelConfig) -> nn.Module:
    import snntorch

    beta, threshold = float(config.lif_beta), float(config.lif_threshold)
    if not (0.0 < beta < 1.0):
        raise ValueError(
            f"ModelConfig.lif_beta = {beta!r} must lie in (0, 1); snnTorch's tutorials "
            "use 0.95."
        )
    if not (math.isfinite(threshold) and threshold > 0.0):
        raise ValueError(
            f"ModelConfig.lif_threshold = {threshold!r} must be positive; the "
            "frameworks' default is 1."
        )
    neuron = snntorch.Leaky(
        beta=beta,
        threshold=threshold,
        spike_grad=_surrogate(config),
        reset_mechanism="subtract",
    )
    return LeakyBlock(
        _mapping(config, leaky_rheobase(beta, threshold)), neuron, config.steps
    )


def _lif_block(config: ModelConfig) -> nn.Module:
    from norse.torch import LIFCell, LIFParameters

    threshold = float(config.lif_threshold)
    if not (math.isfinite(threshold) and threshold > 0.0):
        raise ValueError(
            f"ModelConfig.lif_threshold = {threshold!r} must be positive; Norse's "
            "default v_th is 1."
        )
    p = LIFParameters(v_th=torch.as_tensor(threshold))
    neuron = LIFCell(p, dt=NORSE_DT)
    return LIFCellBlock(
        _mapping(config, lif_rheobase(p, NORSE_DT)), neuron, config.steps
    )


register_block("leaky", _leaky_block)
register_block("lif", _lif_block)
