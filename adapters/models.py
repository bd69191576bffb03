"""The hybrid ANN-SNN classifier: an ANN encoder, one spiking layer, two readout heads.

Data flow for a batch of ``B`` images (shapes in brackets)::

    image [B, 1, 28, 28] -> flatten [B, 784]
      -> Linear 784->256 -> ReLU -> Dropout -> Linear 256->128 -> ReLU
      -> Linear 128->n -> BatchNorm                       (features [B, n])
      -> spiking block (owns its input mapping)           (spikes, trace [T, B, n])
      -> main head on time-weighted spike counts [B, n]:
         Linear n->n -> ReLU -> Dropout -> Linear n->C    (logits [B, C])
      -> auxiliary head on the final trace [B, n]:
         Linear n->C                                      (aux_logits [B, C])

The contract a spiking block follows (the LIF baselines in
:mod:`shno_neurons.adapters.baselines` follow it too):

* it is an :class:`torch.nn.Module` with integer attributes ``n`` (neurons) and
  ``steps`` (time steps ``T``);
* ``forward(features)`` takes features of shape ``[B, n]`` (dimensionless, the
  BatchNorm output), holds them as the input of every step, starts from a fresh state
  and returns a :class:`BlockOutput` ``(spikes [T, B, n], trace [T, B, n])``, where
  ``trace`` is the block's readout component after each step: the readout ``m_y``
  for SHNO neurons, the membrane potential for LIF neurons;
* the block owns its input mapping (for SHNO, :class:`CurrentMapping` turns features
  into a current density in A/m^2).

Blocks are built by name from :data:`BLOCKS`, a plain dict of factories
``factory(config: ModelConfig) -> nn.Module``; :func:`register_block` adds one (the
baselines module registers ``"leaky"`` and ``"lif"`` when imported, and
:func:`build_model` imports it when asked for a name it does not know).

The SHNO block is assembled from the host frameworks' own tooling: with
``framework="snntorch"`` an :class:`torch.nn.Sequential` holding
:class:`shno_neurons.snntorch.SHNO` with ``init_hidden=True``; with
``framework="norse"`` a :class:`norse.torch.SequentialState` holding
:class:`shno_neurons.norse.SHNOCell`.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor, nn

from .. import functional, presets
from ..parameters import SHNOParameters, with_device_spread
from ..reset import reset

__all__ = [
    "BlockOutput",
    "ModelOutput",
    "ModelConfig",
    "CurrentMapping",
    "SHNOBlock",
    "ReLUBlock",
    "HybridClassifier",
    "BLOCKS",
    "register_block",
    "build_model",
    "time_weights",
    "device_parameters",
    "J_MAX_DEFAULT",
]

#: Largest current density the mapping lets through by default, A/m^2.
#:
#: Where it comes from: nano-constriction SHNOs on Pt are run at a few 1e12 A/m^2
#: (Set A's threshold is 1.05e12 A/m^2; Demidov et al., Nat. Mater. 11, 1028 (2012) and
#: Awad et al., Nat. Phys. 13, 292 (2017) drive their constrictions at one to three
#: times threshold), and pulsed spin-orbit-torque switching of heavy-metal strips uses
#: 1e12 to 1e13 A/m^2 for nanoseconds. Around 1e13 A/m^2 (1e9 A/cm^2) the Joule power
#: ``rho J^2`` of Pt (rho ~ 2e-7 Ohm m) reaches 2e19 W/m^3, which heats a constriction
#: by hundreds of kelvin and drives electromigration: the order of magnitude at which
#: thin metal lines fail. It is an engineering bound of that order, not the measured
#: breakdown of one device; lower it (``j_max``) to model a more cautious chip.
J_MAX_DEFAULT = 1e13


class BlockOutput(NamedTuple):
    """What a spiking block returns.

    Attributes:
        spikes: spikes after each step, shape ``[T, B, n]`` (0 or 1 with a surrogate
            gradient; real-valued activations for the ReLU ablation).
        trace: the readout component after each step, shape ``[T, B, n]``: ``m_y``
            (dimensionless) for SHNO neurons, the membrane potential for LIF neurons.
    """

    spikes: Tensor
    trace: Tensor


class ModelOutput(NamedTuple):
    """What :class:`HybridClassifier` returns.

    Attributes:
        logits: main (spiking) head, shape ``[B, C]``.
        aux_logits: auxiliary head on the final trace, shape ``[B, C]``.
        spikes: the block's spikes, shape ``[T, B, n]``.
        trace: the block's readout trace, shape ``[T, B, n]``.
    """

    logits: Tensor
    aux_logits: Tensor
    spikes: Tensor
    trace: Tensor


@dataclass
class ModelConfig:
    """Every setting of the hybrid classifier (SI units where physical).

    The command line exposes each field as ``--field-name`` (see
    :mod:`shno_neurons.cli`). Defaults come from the physics (PHYSICS.md, operating
    point): Set A (NiFe/Pt, ``j_c`` = 1.05e12 A/m^2) driven at 3 +- 1.5 ``j_c``
    crosses a 0.5 readout threshold within about 1 ns, so 15 steps of 0.1 ns give each
    neuron room for zero to several spikes.

    Attributes:
        block: spiking kind: ``"shno"``, ``"relu"`` (ANN ablation: ReLU in place of
            the spiking layer) or a registered name (``"leaky"``, ``"lif"``).
        framework: host of the SHNO neuron, ``"snntorch"`` or ``"norse"``.
        n_inputs: pixels per image.
        hidden: widths of the encoder's two hidden layers.
        n_neurons: neurons in the spiking layer (``n``).
        n_classes: classes ``C``.
        steps: network steps ``T``.
        dropout: dropout probability in the encoder and the main head.
        head_hidden: width of the main head's hidden layer.
        preset: device preset name (:data:`shno_neurons.presets.PRESETS`):
            nife_pt, w_cofeb_pma or easy_plane.
        dt: network step, s.
        dt_sub: integrator substep, s. Measured for Set A over 15 steps of 0.1 ns
            with the zero reset, at 96 drives from 0 to 9.5 j_c, against RK4 at
            0.25 ps: at 4 ps every spike train is identical and the m_y trace is
            within 4e-4 (median 5e-6); 2 ps gives 3e-5 at twice the cost. (A free
            large-amplitude orbit without resets drifts more: 1e-2 median after
            1.5 ns at 4 ps, 3e-4 at 2 ps.)
        method: integrator (``"auto"``: RK4, Heun with thermal noise).
        backend: substep kernel, ``"fused"`` or ``"eager"`` (same results).
        threshold: readout level of a spike, dimensionless.
        hysteresis: re-arm margin below the threshold, dimensionless.
        reset: ``"zero"`` (m back to rest after a spike: a strong reset pulse),
            ``"subtract"`` or ``"none"``. ``"zero"`` is the default because it makes
            the spike count rise with the drive (1, 2, 3, 3, 3, 5 spikes in 15
            steps at 3, 4, 5, 6, 8, 10 j_c for Set A) while ``"subtract"`` leaves
            a large orbit whose count jumps about (2, 3, 6, 3, 2, 5). Measured on
            the default task after 2 epochs: 98.75 % test accuracy with
            ``"zero"``, 64 % with ``"subtract"``.
        surrogate: surrogate gradient: an snnTorch name (``"atan"``,
            ``"fast_sigmoid"``, ``"sigmoid"``, ``"triangular"``) or a Norse threshold
            function (``"super"``, ``"tanh"``, ``"triangle"``, ``"circ"``,
            ``"heavi_erfc"``); either works with either framework.
        surrogate_slope: its sharpness (snnTorch's ``alpha``/``slope``, Norse's
            ``alpha``).
        scale_init: initial feature-to-current scale, units of ``j_c`` per unit
            feature.
        bias_init: initial DC bias, units of ``j_c``.
        learn_scale: make the per-neuron scale learnable.
        learn_bias: make the per-neuron bias learnable.
        j_max: the current density is clamped to ``[-j_max, j_max]``, A/m^2
            (:data:`J_MAX_DEFAULT` says where 1e13 comes from).
        mod_slow_amp: relative amplitude of a slow sinusoidal drive modulation.
        mod_slow_freq: its frequency, Hz.
        mod_fast_amp: relative amplitude of a fast modulation.
        mod_fast_freq: its frequency, Hz (below the step rate's Nyquist limit
            ``1 / (2 dt)``: the drive is held constant over each step).
        temperature: temperature of the thermal field, K (0: no noise).
        spread_ms: relative device-to-device spread of ``Ms``.
        spread_alpha: relative spread of the damping.
        spread_theta_sh: relative spread of the spin Hall angle.
        spread_h_k: relative spread of the anisotropy field (no effect for presets
            without anisotropy, such as Set A).
        device_seed: seed of the device-to-device draw (the thermal noise follows
            the training seed).
        lif_beta: membrane decay per step of the LIF baselines.
        lif_threshold: firing threshold of the LIF baselines.
    """

    block: str = "shno"
    framework: str = "snntorch"
    n_inputs: int = 784
    hidden: tuple[int, ...] = (256, 128)
    n_neurons: int = 60
    n_classes: int = 4
    steps: int = 15
    dropout: float = 0.2
    head_hidden: int = 60
    preset: str = "nife_pt"
    dt: float = 1e-10
    dt_sub: float = 4e-12
    method: str = "auto"
    backend: str = "fused"
    threshold: float = 0.5
    hysteresis: float = 0.0
    reset: str = "zero"
    surrogate: str = "atan"
    surrogate_slope: float = 2.0
    scale_init: float = 1.5
    bias_init: float = 3.0
    learn_scale: bool = True
    learn_bias: bool = True
    j_max: float = J_MAX_DEFAULT
    mod_slow_amp: float = 0.0
    mod_slow_freq: float = 0.5e9
    mod_fast_amp: float = 0.0
    mod_fast_freq: float = 4e9
    temperature: float = 0.0
    spread_ms: float = 0.0
    spread_alpha: float = 0.0
    spread_theta_sh: float = 0.0
    spread_h_k: float = 0.0
    device_seed: int = 0
    lif_beta: float = 0.9
    lif_threshold: float = 1.0

    def __post_init__(self) -> None:
        self.hidden = tuple(int(h) for h in self.hidden)
        for name in ("n_inputs", "n_neurons", "n_classes", "steps", "head_hidden"):
            value = getattr(self, name)
            if not (isinstance(value, int) and value >= 1):
                raise ValueError(
                    f"ModelConfig.{name} = {value!r} must be a positive integer."
                )
        if not self.hidden or min(self.hidden) < 1:
            raise ValueError(
                f"ModelConfig.hidden = {self.hidden!r} must list one or more positive "
                "layer widths, e.g. (256, 128)."
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(
                f"ModelConfig.dropout = {self.dropout!r} must lie in [0, 1)."
            )
        if self.framework not in ("snntorch", "norse"):
            raise ValueError(
                f"ModelConfig.framework = {self.framework!r} is not one of "
                "'snntorch', 'norse'."
            )
        if self.preset not in presets.PRESETS:
            raise ValueError(
                f"ModelConfig.preset = {self.preset!r} is not one of "
                f"{sorted(presets.PRESETS)}."
            )
        try:
            presets.PRESETS[self.preset].threshold_current_density()
        except ValueError:
            usable = []
            for name, preset in sorted(presets.PRESETS.items()):
                try:
                    preset.threshold_current_density()
                    usable.append(name)
                except ValueError:
                    pass
            raise ValueError(
                f"ModelConfig.preset = {self.preset!r} has no closed-form threshold "
                "current density j_c (its spin polarization is normal to m in the "
                "plane), and the classifier's current mapping is expressed in units "
                f"of j_c. Use one of {usable}, or build the model in Python with "
                "your own current scale."
            ) from None
        if not (isinstance(self.dt, float | int) and 1e-13 <= self.dt <= 1e-8):
            raise ValueError(
                f"ModelConfig.dt = {self.dt!r} s must lie in [1e-13, 1e-8] (the "
                "neuron's own limit); the "
                "default 1e-10 (0.1 ns) lets Set A spike within a few steps at 3 j_c."
            )
        if not (0.0 < self.j_max <= 1e14):
            raise ValueError(
                f"ModelConfig.j_max = {self.j_max!r} A/m^2 must lie in (0, 1e14]; "
                f"{J_MAX_DEFAULT:g} is the default device limit."
            )
        for name in ("mod_slow_amp", "mod_fast_amp"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(
                    f"ModelConfig.{name} = {getattr(self, name)!r} must lie in [0, 1] "
                    "(a relative modulation depth)."
                )
        nyquist = 0.5 / self.dt
        for name in ("mod_slow_freq", "mod_fast_freq"):
            amp = getattr(self, name.replace("freq", "amp"))
            if amp > 0 and not 0.0 <= getattr(self, name) <= nyquist:
                raise ValueError(
                    f"ModelConfig.{name} = {getattr(self, name)!r} Hz must lie in "
                    f"[0, {nyquist:.3g}] (the Nyquist limit 1 / (2 dt) of a drive held "
                    "constant over each step); lower it or shorten dt."
                )
        for name in ("spread_ms", "spread_alpha", "spread_theta_sh", "spread_h_k"):
            if not 0.0 <= getattr(self, name) < 0.5:
                raise ValueError(
                    f"ModelConfig.{name} = {getattr(self, name)!r} must lie in "
                    "[0, 0.5) (a relative standard deviation)."
                )

    @property
    def spread(self) -> dict[str, float]:
        """Nonzero device spreads, keyed by :class:`SHNOParameters` field name."""
        pairs = {
            "ms": self.spread_ms,
            "alpha": self.spread_alpha,
            "theta_sh": self.spread_theta_sh,
            "h_k": self.spread_h_k,
        }
        return {k: v for k, v in pairs.items() if v > 0.0}


def time_weights(steps: int, device: torch.device | None = None) -> Tensor:
    """Linear ramp ``w_t = (t + 1) / T`` favouring late spikes, shape ``[T]``."""
    return torch.arange(1, steps + 1, dtype=torch.float32, device=device) / steps


def device_parameters(config: ModelConfig) -> tuple[SHNOParameters, SHNOParameters]:
    """The nominal device and the layer's devices (spread and temperature applied).

    Returns:
        ``(nominal, layer)``: ``nominal`` is the preset with float fields (its
        ``j_c`` scales the current mapping); ``layer`` has per-neuron tensors of shape
        ``[n]`` for every spread field, drawn once from ``config.device_seed``.
    """
    nominal = presets.PRESETS[config.preset]
    layer = nominal.replace(temperature=float(config.temperature))
    idle = [k for k in config.spread if nominal._scalar(k) == 0.0]
    if idle:
        warnings.warn(
            f"device spread of {idle} has no effect: preset {config.preset!r} has "
            f"{', '.join(f'{k} = 0' for k in idle)} (a relative spread of zero is "
            "zero).",
            UserWarning,
            stacklevel=2,
        )
    if config.spread:
        gen = torch.Generator().manual_seed(int(config.device_seed))
        layer = with_device_spread(layer, config.n_neurons, config.spread, gen)
    return nominal, layer


class CurrentMapping(nn.Module):
    r"""Features to a physical current density in the heavy metal, A/m^2.

    .. math::

        j_t = \mathrm{clamp}\big(s\, j_c\, (a\, x + b)\, g(t),\; -j_\mathrm{max},
        j_\mathrm{max}\big),

    with ``x`` the features (dimensionless), ``a`` the learnable per-neuron scale and
    ``b`` the per-neuron DC bias, both in units of the device threshold ``j_c``
    (:meth:`SHNOParameters.threshold_current_density`), ``s`` the device's
    :meth:`~SHNOParameters.drive_sign`, and
    ``g(t) = 1 + A_slow sin(2 pi f_slow t dt) + A_fast sin(2 pi f_fast t dt)`` the
    optional temporal modulation (the drive is held constant over each network step,
    as :func:`shno_neurons.functional.shno_step` integrates it). The clamp models a
    current source that a real device survives (:data:`J_MAX_DEFAULT`).

    Args:
        n: neurons.
        j_c: threshold current density of the nominal device, A/m^2.
        drive_sign: +1 or -1, the sign of the current that makes the device spike.
        dt: network step, s (for the modulation).
        scale_init: initial scale, ``j_c`` per unit feature.
        bias_init: initial bias, ``j_c``.
        learn_scale: whether the scale is a parameter (else a buffer).
        learn_bias: whether the bias is a parameter (else a buffer).
        j_max: clamp, A/m^2.
        modulation: ``(A_slow, f_slow, A_fast, f_fast)``, amplitudes relative, Hz.
    """

    def __init__(
        self,
        n: int,
        j_c: float,
        drive_sign: float = 1.0,
        dt: float = 1e-10,
        scale_init: float = 1.5,
        bias_init: float = 3.0,
        learn_scale: bool = True,
        learn_bias: bool = True,
        j_max: float = J_MAX_DEFAULT,
        modulation: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0),
    ) -> None:
        super().__init__()
        if not (math.isfinite(j_c) and j_c > 0):
            raise ValueError(f"CurrentMapping: j_c = {j_c!r} A/m^2 must be positive.")
        self.j_c = float(j_c)
        self.drive_sign = float(drive_sign)
        self.dt = float(dt)
        self.j_max = float(j_max)
        self.modulation = tuple(float(v) for v in modulation)
        scale = torch.full((n,), float(scale_init))
        bias = torch.full((n,), float(bias_init))
        if learn_scale:
            self.scale = nn.Parameter(scale)
        else:
            self.register_buffer("scale", scale)
        if learn_bias:
            self.bias = nn.Parameter(bias)
        else:
            self.register_buffer("bias", bias)

    def gain(self, t: int) -> float:
        """Modulation factor ``g(t)`` of step ``t`` (dimensionless)."""
        a_slow, f_slow, a_fast, f_fast = self.modulation
        time = t * self.dt
        return (
            1.0
            + a_slow * math.sin(2 * math.pi * f_slow * time)
            + a_fast * math.sin(2 * math.pi * f_fast * time)
        )

    def forward(self, features: Tensor, t: int = 0) -> Tensor:
        """Current density of step ``t``, A/m^2, shape of ``features`` ``[B, n]``."""
        drive = (self.scale * features + self.bias) * self.gain(t)
        j = (self.drive_sign * self.j_c) * drive
        return j.clamp(-self.j_max, self.j_max)

    def extra_repr(self) -> str:
        return f"j_c={self.j_c:.4g} A/m^2, j_max={self.j_max:.3g} A/m^2"


class SHNOBlock(nn.Module):
    """A layer of SHNO neurons behind a :class:`CurrentMapping`.

    The spiking part is built from the host framework's own containers:

    * ``"snntorch"``: ``nn.Sequential(SHNO(init_hidden=True, output=True, ...))`` with
      :class:`shno_neurons.snntorch.SHNO`; the hidden state is cleared with
      :func:`shno_neurons.reset` before every sample batch;
    * ``"norse"``: ``norse.torch.SequentialState(SHNOCell(...))`` with
      :class:`shno_neurons.norse.SHNOCell`; the state list is passed along the steps
      and starts from ``None`` (the rest state).

    Both call the same functional step, so they compute the same spikes.

    Args:
        mapping: features to current density (A/m^2); the neurons get no scale or
            bias of their own.
        p: device parameters of the layer (per-neuron tensors of shape ``[n]`` for a
            device spread, ``temperature > 0`` for thermal noise).
        neuron: spike rule, reset, surrogate and integrator settings.
        steps: network steps ``T``.
        dt: network step, s.
        framework: ``"snntorch"`` or ``"norse"``.

    Attributes:
        spiking: the framework container holding the neurons.
        p, neuron_params: the device and neuron settings (for replays and figures).
    """

    def __init__(
        self,
        mapping: CurrentMapping,
        p: SHNOParameters,
        neuron: functional.NeuronParameters,
        steps: int,
        dt: float,
        framework: str = "snntorch",
    ) -> None:
        super().__init__()
        self.mapping = mapping
        self.n = int(mapping.scale.shape[0])
        self.steps = int(steps)
        self.dt = float(dt)
        self.p = p
        self.neuron_params = neuron
        self.framework = framework
        if framework == "snntorch":
            from ..snntorch import SHNO

            self.spiking = nn.Sequential(
                SHNO(
                    threshold=neuron.threshold,
                    spike_grad=neuron.surrogate,
                    init_hidden=True,
                    output=True,
                    reset_mechanism=neuron.reset,
                    params=p,
                    dt=dt,
                    dt_sub=neuron.dt_sub,
                    hysteresis=neuron.hysteresis,
                    method=neuron.method,
                    backend=neuron.backend,
                    rest_tilt=neuron.rest_tilt,
                )
            )
        elif framework == "norse":
            from norse.torch import SequentialState

            from ..norse import SHNOCell

            settings = dataclasses.replace(neuron, surrogate=None)
            self.spiking = SequentialState(
                SHNOCell(p, settings, dt=dt, method=neuron.surrogate)
            )
        else:
            raise ValueError(
                f"framework = {framework!r} is not one of 'snntorch', 'norse'."
            )

    @property
    def m_rest(self) -> Tensor:
        """Rest direction of m, float64, shape ``(3,)`` or ``(n, 3)``."""
        cell = self.spiking[0]
        params = cell.params if self.framework == "snntorch" else cell.p.params
        return params.m_rest

    def forward(self, features: Tensor) -> BlockOutput:
        """Spikes and ``m_y`` trace, each ``[T, B, n]``, from features ``[B, n]``."""
        spikes, trace = [], []
        if self.framework == "snntorch":
            reset(self.spiking)
            for t in range(self.steps):
                s, state = self.spiking(self.mapping(features, t))
                spikes.append(s)
                trace.append(functional.readout(state.m, self.p))
        else:
            states = None
            for t in range(self.steps):
                s, states = self.spiking(self.mapping(features, t), states)
                spikes.append(s)
                trace.append(functional.readout(states[0].m, self.p))
        return BlockOutput(torch.stack(spikes), torch.stack(trace))


class ReLUBlock(nn.Module):
    """ANN ablation: ReLU in place of the spiking layer.

    ``spikes`` and ``trace`` are both ``relu(features)`` repeated over ``T`` steps, so
    the heads see the same shapes as with a spiking block.
    """

    def __init__(self, n: int, steps: int) -> None:
        super().__init__()
        self.n = int(n)
        self.steps = int(steps)

    def forward(self, features: Tensor) -> BlockOutput:
        a = torch.relu(features).unsqueeze(0).expand(self.steps, *features.shape)
        return BlockOutput(a, a)


class HybridClassifier(nn.Module):
    """Encoder, spiking block and two heads (module docstring for the data flow).

    Args:
        encoder: images ``[B, ...]`` to features ``[B, n]``.
        block: spiking block following the contract in the module docstring.
        head: main head, time-weighted spike counts ``[B, n]`` to logits ``[B, C]``.
        aux_head: auxiliary head, final trace ``[B, n]`` to logits ``[B, C]``.
    """

    def __init__(
        self, encoder: nn.Module, block: nn.Module, head: nn.Module, aux_head: nn.Module
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.block = block
        self.head = head
        self.aux_head = aux_head
        self.register_buffer(
            "time_weights", time_weights(int(block.steps)), persistent=False
        )

    def forward(self, images: Tensor) -> ModelOutput:
        """Logits of both heads plus the block's spikes and trace."""
        features = self.encoder(images)
        out = self.block(features)
        counts = (self.time_weights.view(-1, 1, 1) * out.spikes).sum(0)
        return ModelOutput(
            self.head(counts), self.aux_head(out.trace[-1]), out.spikes, out.trace
        )


# ----------------------------------------------------------------------- builders
BlockFactory = Callable[[ModelConfig], nn.Module]


#: Norse threshold functions accepted as surrogate names (``surrogate_slope`` is
#: their ``alpha``).
NORSE_SURROGATES = ("super", "tanh", "triangle", "circ", "heavi_erfc")


def _surrogate(config: ModelConfig) -> Callable[[Tensor], Tensor]:
    """The spike function with its surrogate gradient, from snnTorch or Norse."""
    from snntorch import surrogate

    slope = float(config.surrogate_slope)
    makers = {
        "atan": lambda: surrogate.atan(alpha=slope),
        "fast_sigmoid": lambda: surrogate.fast_sigmoid(slope=slope),
        "sigmoid": lambda: surrogate.sigmoid(slope=slope),
        "triangular": lambda: surrogate.triangular(threshold=slope),
    }
    if config.surrogate in makers:
        return makers[config.surrogate]()
    if config.surrogate in NORSE_SURROGATES:
        from norse.torch.functional.threshold import threshold

        return functools.partial(threshold, method=config.surrogate, alpha=slope)
    raise ValueError(
        f"ModelConfig.surrogate = {config.surrogate!r} is not one of snnTorch's "
        f"{sorted(makers)} or Norse's {list(NORSE_SURROGATES)}."
    )


def _shno_block(config: ModelConfig) -> nn.Module:
    nominal, layer = device_parameters(config)
    mapping = CurrentMapping(
        config.n_neurons,
        nominal.threshold_current_density(),
        nominal.drive_sign(),
        config.dt,
        config.scale_init,
        config.bias_init,
        config.learn_scale,
        config.learn_bias,
        config.j_max,
        (
            config.mod_slow_amp,
            config.mod_slow_freq,
            config.mod_fast_amp,
            config.mod_fast_freq,
        ),
    )
    neuron = functional.NeuronParameters(
        threshold=config.threshold,
        hysteresis=config.hysteresis,
        reset=config.reset,
        surrogate=_surrogate(config),
        dt_sub=config.dt_sub,
        method=config.method,
        backend=config.backend,
    )
    return SHNOBlock(mapping, layer, neuron, config.steps, config.dt, config.framework)


def _relu_block(config: ModelConfig) -> nn.Module:
    return ReLUBlock(config.n_neurons, config.steps)


#: Spiking blocks by name. Add one with :func:`register_block`.
BLOCKS: dict[str, BlockFactory] = {"shno": _shno_block, "relu": _relu_block}

#: Modules imported by :func:`build_model` to find a block name it does not know.
_BLOCK_PROVIDERS = (".baselines",)


def register_block(name: str, factory: BlockFactory) -> None:
    """Make ``build_model`` build ``factory(config)`` for ``config.block == name``."""
    BLOCKS[name] = factory


def build_model(config: ModelConfig) -> HybridClassifier:
    """Build the classifier described by ``config`` (architecture in module docs)."""
    if config.block not in BLOCKS:
        for provider in _BLOCK_PROVIDERS:
            importlib.import_module(provider, __package__)
    if config.block not in BLOCKS:
        raise ValueError(
            f"ModelConfig.block = {config.block!r} is not one of {sorted(BLOCKS)}; "
            "register a new kind with shno_neurons.adapters.models.register_block."
        )
    n = config.n_neurons
    layers: list[nn.Module] = [nn.Flatten()]
    width = config.n_inputs
    for i, h in enumerate(config.hidden):
        layers += [nn.Linear(width, h), nn.ReLU()]
        if i == 0:
            layers.append(nn.Dropout(config.dropout))
        width = h
    layers += [nn.Linear(width, n), nn.BatchNorm1d(n)]
    encoder = nn.Sequential(*layers)
    block = BLOCKS[config.block](config)
    head = nn.Sequential(
        nn.Linear(n, config.head_hidden),
        nn.ReLU(),
        nn.Dropout(config.dropout),
        nn.Linear(config.head_hidden, config.n_classes),
    )
    aux_head = nn.Linear(n, config.n_classes)
    return HybridClassifier(encoder, block, head, aux_head)
