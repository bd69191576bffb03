"""Pieces shared by the snnTorch and Norse front-ends (private).

Both front-ends are thin wrappers around :func:`shno_neurons.functional.shno_step`.
What they share lives here:

* :class:`DeviceParameters`, the device of :class:`~shno_neurons.SHNOParameters` held
  as float64 buffers (or parameters), so it moves with ``.to()``, is saved by
  ``state_dict()`` and restored by ``load_state_dict()``, plus the cached rest
  direction of m;
* :func:`register_quantity` and :func:`register_currents`, which register the
  threshold and the input's bias and gain as an ``nn.Parameter`` when learnable and
  as a buffer otherwise (currents in units of the device's threshold current density,
  where an optimiser can move them);
* :class:`PicklableCallable`, so that modules holding snnTorch's surrogate closures
  survive ``pickle``, ``torch.save`` and ``copy.deepcopy``;
* the checks made once at the front-end boundary, and :func:`run_step`, the one place
  where a front-end calls the functional step.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import pickle
import types
import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from . import llgs
from .functional import NeuronParameters, SHNOState, rest_direction, shno_step
from .parameters import SHNOParameters
from .presets import PRESETS

__all__ = [
    "DeviceParameters",
    "PicklableCallable",
    "heaviside",
    "register_quantity",
    "register_currents",
    "default_current_unit",
    "resolve_parameters",
    "check_dt",
    "check_threshold",
    "check_input",
    "check_state",
    "check_layer",
    "run_step",
]

#: Largest network step accepted, s. The LLGS dynamics run at GHz, so a step of
#: 10 ns already takes 10,000 substeps; a millisecond (Norse's LIF default) would take
#: a billion and is always a units mistake.
DT_MAX = 1e-8

#: Numeric fields of SHNOParameters (every field but the readout kind and the cache).
_FIELDS = tuple(
    f.name
    for f in dataclasses.fields(SHNOParameters)
    if f.init and f.name not in ("readout",)
)

_SUPPORTED_DTYPES = (torch.float32, torch.float64)


# --------------------------------------------------------------------------- checks
def resolve_parameters(params: SHNOParameters | str) -> SHNOParameters:
    """Accept a :class:`SHNOParameters` or the name of a preset (``"nife_pt"``)."""
    if isinstance(params, SHNOParameters):
        return params
    if isinstance(params, str):
        key = params.lower()
        if key not in PRESETS:
            raise ValueError(
                f"params = {params!r} is not a known preset; the presets are "
                f"{sorted(PRESETS)}. Pass one of them or an SHNOParameters."
            )
        return PRESETS[key]
    raise TypeError(
        f"params must be an SHNOParameters (e.g. shno_neurons.presets.NIFE_PT) or a "
        f"preset name, got {type(params).__name__}."
    )


def check_dt(dt: float) -> float:
    """Validate the network step ``dt`` (s) and return it as a float."""
    if isinstance(dt, Tensor) or not isinstance(dt, (int, float)):
        raise TypeError(
            f"dt must be a Python float in seconds, got {type(dt).__name__}."
        )
    if not (math.isfinite(dt) and 0.0 < dt <= DT_MAX):
        raise ValueError(
            f"dt = {dt!r} s must lie in (0, {DT_MAX:g}]. SHNO neurons precess at GHz: "
            "typical network steps are 1e-11 to 1e-9 s (default 1e-10). A value like "
            "1e-3 is a leaky-integrate-and-fire habit, not a valid SHNO step."
        )
    return float(dt)


def check_threshold(threshold: float | Tensor, p: SHNOParameters) -> None:
    """The readout is a magnetization component: the threshold lies in (-1, 1).

    With a quadratic (magnetoresistive) readout ``(m . a)^2`` it lies in (0, 1).
    """
    low = 0.0 if p.readout == "quadratic" else -1.0
    t = torch.as_tensor(threshold, dtype=torch.float64).detach()
    if not bool(torch.isfinite(t).all()) or not bool(((t > low) & (t < 1.0)).all()):
        shown = (
            repr(threshold)
            if t.numel() == 1
            else f"a tensor with min {float(t.min()):.4g}, max {float(t.max()):.4g}"
        )
        raise ValueError(
            f"threshold = {shown} must lie in ({low:g}, 1): the readout of a "
            f"{p.readout} device is a magnetization component"
            + (" squared" if p.readout == "quadratic" else "")
            + ". Typical values are 0.3 to 0.8 (default 0.5)."
        )


def check_input(x: Tensor, name: str = "input") -> None:
    """The input current must be a float32 or float64 tensor."""
    if not isinstance(x, Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor of currents, got {type(x).__name__}."
        )
    if x.dtype not in _SUPPORTED_DTYPES:
        raise TypeError(
            f"{name} has dtype {x.dtype}; SHNO neurons run in float32 or float64 "
            "(the LLGS coefficients overflow half precision). Cast the input with "
            ".float() or .double()."
        )


def check_state(state: Any, x: Tensor) -> SHNOState:
    """A state passed by the caller must match the input's shape, dtype and device."""
    if not (isinstance(state, tuple) and len(state) == 2):
        raise TypeError(
            "state must be an SHNOState(m, armed) as returned by the neuron, got "
            f"{type(state).__name__}. Pass None to start from rest."
        )
    state = SHNOState(*state)
    m = state.m
    expected = tuple(x.shape) + (3,)
    if tuple(m.shape) != expected:
        raise ValueError(
            f"state.m has shape {tuple(m.shape)} but the input has shape "
            f"{tuple(x.shape)}; expected {expected}. The batch size or layer width "
            "changed: start the new sequence from state=None (or reset the neuron)."
        )
    if m.dtype != x.dtype or m.device != x.device:
        raise ValueError(
            f"state.m is {m.dtype} on {m.device} but the input is {x.dtype} on "
            f"{x.device}. Start from state=None after moving or casting the model."
        )
    return state


# ------------------------------------------------------------------ registration
def register_quantity(
    module: nn.Module,
    name: str,
    value: float | Tensor | None,
    learn: bool,
    label: str | None = None,
) -> None:
    """Register ``name`` on ``module``: a Parameter if ``learn``, else a buffer.

    Floats become tensors of the default dtype, so ``.double()`` converts them with the
    rest of the model; ``None`` registers an empty buffer (the quantity is off).
    ``label`` is the argument's name in messages (default ``name``).
    """
    label = label or name
    if value is None:
        if learn:
            raise ValueError(
                f"learn_{label}=True needs a starting value; got {label}=None. Pass "
                f"{label} as a number."
            )
        module.register_buffer(name, None)
        return
    if isinstance(value, Tensor):
        tensor = value.detach().clone()
        if not tensor.is_floating_point():
            tensor = tensor.to(torch.get_default_dtype())
    else:
        tensor = torch.as_tensor(float(value), dtype=torch.get_default_dtype())
    if not bool(torch.isfinite(tensor).all()):
        raise ValueError(f"{label} = {value!r} must be finite.")
    if learn:
        setattr(module, name, nn.Parameter(tensor))
    else:
        module.register_buffer(name, tensor)


def register_currents(
    module: nn.Module,
    unit: float,
    j_bias: float | Tensor,
    learn_j_bias: bool,
    scale: float | Tensor | None,
    learn_scale: bool,
) -> None:
    """Register ``bias = j_bias / unit`` and ``gain = scale / unit`` on ``module``.

    Current densities are of order 1e12 A/m^2 and their gradients of order 1e-12, so
    an optimiser (Adam's ``eps``, SGD's step) cannot move them in SI units; in units
    of ``unit`` (the device's threshold current density) they are of order one.
    """
    for name, value in (("j_bias", j_bias), ("scale", scale)):
        if value is not None and not isinstance(value, (Tensor, int, float)):
            raise TypeError(
                f"{name} must be a float or a tensor in A/m^2, got "
                f"{type(value).__name__}."
            )
    register_quantity(module, "bias", _per_unit(j_bias, unit), learn_j_bias, "j_bias")
    register_quantity(module, "gain", _per_unit(scale, unit), learn_scale, "scale")


class CurrentQuantities:
    """``j_bias`` and ``scale`` in A/m^2, read back from :func:`register_currents`.

    Mixed into a module that holds ``bias`` and ``gain`` (units of its device's
    ``current_unit``) and its :class:`DeviceParameters` as ``params``.
    """

    @property
    def j_bias(self) -> Tensor:
        """Bias current density, A/m^2 (float64), shape ``()`` or ``(N,)``."""
        return self.bias * self.params.current_unit

    @property
    def scale(self) -> Tensor | None:
        """Current density per input unit, A/m^2 (float64), or None."""
        return None if self.gain is None else self.gain * self.params.current_unit


def _per_unit(value: float | Tensor | None, unit: float) -> float | Tensor | None:
    if value is None:
        return None
    if isinstance(value, Tensor):
        return value.detach() / unit
    return float(value) / unit


def default_current_unit(p: SHNOParameters) -> float:
    """The device's threshold current density j_c (A/m^2), else 1e12 A/m^2.

    j_c has a closed form for the auto-oscillator and easy-plane geometries; for
    per-neuron parameters it is taken for the nominal (mean) device.
    """
    try:
        return abs(llgs._nominal(p).threshold_current_density())
    except (ValueError, ZeroDivisionError):
        return 1e12


class DeviceParameters(nn.Module):
    """The device of one layer of SHNO neurons as a module (SI units, float64).

    Every numeric field of :class:`~shno_neurons.SHNOParameters` becomes a float64
    buffer of the same name (an ``nn.Parameter`` when the field is a tensor that
    requires grad), so the device moves with ``.to(device)``, is saved by
    ``state_dict()`` and comes back with ``load_state_dict()``. The readout kind and the
    rest tilt travel as extra state.

    The tensors stay float64 whatever ``.float()``, ``.double()`` or ``.half()`` ask:
    SI values span 1e-34 to 1e12 and overflow half precision; the step casts the
    coefficients it builds from them to the state's dtype.

    Args:
        p: device parameters.
        rest_tilt: tilt of the rest direction from equilibrium, rad
            (:attr:`NeuronParameters.rest_tilt`).
        current_unit: unit of the front-end's ``bias`` and ``gain``, A/m^2; None
            takes :func:`default_current_unit` (the device's j_c).

    Attributes:
        current_unit: that unit, A/m^2, a float64 scalar buffer.
        m_rest: rest direction of m (:func:`~shno_neurons.functional.rest_direction`),
            float64, shape ``(3,)`` or ``(N, 3)``; recomputed after a load.
    """

    def __init__(
        self, p: SHNOParameters, rest_tilt: float, current_unit: float | None = None
    ) -> None:
        super().__init__()
        if current_unit is None:
            current_unit = default_current_unit(p)
        if not (isinstance(current_unit, (int, float)) and 1.0 <= current_unit <= 1e16):
            raise ValueError(
                f"current_unit = {current_unit!r} A/m^2 must be a float in [1, 1e16]; "
                "the default, the device's threshold current density, is about 1e12."
            )
        self.register_buffer(
            "current_unit", torch.tensor(float(current_unit), dtype=torch.float64)
        )
        for name in _FIELDS:
            value = getattr(p, name)
            if isinstance(value, Tensor) and value.requires_grad:
                setattr(self, name, nn.Parameter(value.detach().double().clone()))
            else:
                tensor = torch.as_tensor(value, dtype=torch.float64)
                self.register_buffer(name, tensor.detach().clone())
        self.readout = p.readout
        self.rest_tilt = float(rest_tilt)
        self.register_buffer("m_rest", torch.empty(0, dtype=torch.float64), False)
        self._refresh()
        self.register_load_state_dict_post_hook(_after_load)

    def shno_parameters(self, checked: bool = True) -> SHNOParameters:
        """The device as an :class:`SHNOParameters` whose fields are these tensors.

        Args:
            checked: run the range checks of :class:`SHNOParameters`. They ran when the
                module was built and after every load, so the step skips them
                (``checked=False``): they would synchronise with the GPU and break
                ``torch.compile`` graphs.
        """
        fields = {name: getattr(self, name) for name in _FIELDS}
        # The thermal field decides the integrator; a Python float keeps that
        # decision out of the compiled graph (mirror refreshed on load). A
        # per-neuron temperature stays a tensor: the decision then reads it each step
        # and torch.compile breaks the graph there.
        if self._temperature is not None:
            fields["temperature"] = self._temperature
        if checked:
            return SHNOParameters(readout=self.readout, **fields)
        p = object.__new__(SHNOParameters)
        for name, value in fields.items():
            object.__setattr__(p, name, value)
        object.__setattr__(p, "readout", self.readout)
        object.__setattr__(p, "_cache", {})
        return p

    def _refresh(self) -> None:
        t = self.temperature
        self._temperature = float(t.detach()) if t.numel() == 1 else None
        p = self.shno_parameters()
        neuron = NeuronParameters(rest_tilt=self.rest_tilt)
        m_rest = rest_direction(p, neuron, torch.float64, self.ms.device)
        self.m_rest = m_rest.detach()

    def get_extra_state(self) -> dict[str, Any]:
        return {"readout": self.readout, "rest_tilt": self.rest_tilt}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.readout = str(state["readout"])
        self.rest_tilt = float(state["rest_tilt"])

    def _apply(self, fn: Callable[[Tensor], Tensor], recurse: bool = True):
        # Follow device moves but keep float64: see the class docstring.
        def keep_dtype(t: Tensor) -> Tensor:
            out = fn(t)
            if t.is_floating_point() and out.dtype != t.dtype:
                return t.to(device=out.device)
            return out

        return super()._apply(keep_dtype, recurse)

    def extra_repr(self) -> str:
        def show(name: str) -> str:
            t = getattr(self, name)
            return (
                f"{float(t.detach()):.4g}"
                if t.numel() == 1
                else f"tensor{tuple(t.shape)}"
            )

        return (
            f"ms={show('ms')}, alpha={show('alpha')}, theta_sh={show('theta_sh')}, "
            f"temperature={show('temperature')}, readout={self.readout!r}"
        )


def _after_load(module: DeviceParameters, incompatible_keys: Any) -> None:
    # Validate the loaded device once, refresh the temperature mirror and m_rest.
    module._refresh()


# ------------------------------------------------------------------- callables
class PicklableCallable:
    """Wrap a function so that a module holding it can be pickled.

    snnTorch's surrogates and state quantizers are closures (``atan(alpha)`` returns a
    nested ``inner``), which ``pickle`` refuses. This wrapper pickles such a closure by
    reference: the module and qualified name of the factory that made it, and the
    values it closed over; unpickling finds the nested code in the factory and rebuilds
    the function. The factory must still exist when loading (it is snnTorch's public
    API). cloudpickle would pickle closures by value instead, but ties saved models to
    one Python version's bytecode; a reference does not.

    Module-level functions pickle by reference as usual; lambdas and functions local to
    a function that cannot be found again raise a :class:`pickle.PicklingError`.
    """

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[Tensor], Tensor]) -> None:
        self.fn = fn

    def __call__(self, x: Tensor) -> Tensor:
        return self.fn(x)

    def __repr__(self) -> str:
        return f"{getattr(self.fn, '__qualname__', repr(self.fn))}"

    def __reduce__(self):
        return (_rebuild_callable, _describe(self.fn))


def _describe(fn: Callable) -> tuple:
    qualname = getattr(fn, "__qualname__", "")
    if not isinstance(fn, types.FunctionType) or "<locals>" not in qualname:
        if isinstance(fn, types.FunctionType) and "<lambda>" in qualname:
            raise pickle.PicklingError(_unpicklable(fn))
        return ("object", fn)
    factory_name = qualname.split(".<locals>.")[0]
    module = importlib.import_module(fn.__module__)
    factory = _resolve(module, factory_name)
    if _nested_code(factory, qualname) is not fn.__code__:
        raise pickle.PicklingError(_unpicklable(fn))
    cells = tuple(c.cell_contents for c in fn.__closure__ or ())
    return ("closure", fn.__module__, qualname, cells, fn.__defaults__)


def _unpicklable(fn: Callable) -> str:
    return (
        f"cannot pickle the callable {fn!r}: it is a lambda or a local function whose "
        "code cannot be found again. Pass a module-level function, a functools.partial "
        "of one, or the result of an snntorch.surrogate factory (e.g. atan())."
    )


def _resolve(module: types.ModuleType, dotted: str) -> Any:
    obj: Any = module
    for part in dotted.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def _nested_code(factory: Any, qualname: str) -> types.CodeType | None:
    factory = getattr(factory, "__wrapped__", factory)
    code = getattr(factory, "__code__", None)
    stack = [code] if code is not None else []
    name = qualname.rsplit(".", 1)[-1]
    while stack:
        for const in stack.pop().co_consts:
            if isinstance(const, types.CodeType):
                match = getattr(const, "co_qualname", None)
                if (match == qualname) if match is not None else const.co_name == name:
                    return const
                stack.append(const)
    return None


def _rebuild_callable(kind: str, *args: Any) -> PicklableCallable:
    if kind == "object":
        return PicklableCallable(args[0])
    module_name, qualname, cells, defaults = args
    module = importlib.import_module(module_name)
    factory = _resolve(module, qualname.split(".<locals>.")[0])
    code = _nested_code(factory, qualname)
    if code is None or len(code.co_freevars) != len(cells):
        raise pickle.UnpicklingError(
            f"cannot rebuild {qualname} from {module_name}: the installed version no "
            "longer defines it as when the model was saved."
        )
    closure = tuple(types.CellType(v) for v in cells)
    fn = types.FunctionType(code, factory.__globals__, code.co_name, defaults, closure)
    return PicklableCallable(fn)


def picklable(fn: Callable | None) -> Callable | None:
    """Wrap plain functions in :class:`PicklableCallable`; leave modules as they are."""
    if fn is None or isinstance(fn, (PicklableCallable, nn.Module)):
        return fn
    if not callable(fn):
        raise TypeError(f"expected a callable, got {type(fn).__name__} ({fn!r}).")
    return PicklableCallable(fn)


def heaviside(x: Tensor) -> Tensor:
    """Step function without a gradient, in the dtype of ``x`` (surrogate disabled)."""
    return (x > 0).to(x.dtype)


# ----------------------------------------------------------------------- the step
def check_layer(
    x: Tensor,
    device: DeviceParameters,
    threshold: Tensor,
    j_bias: Tensor,
    scale: Tensor | None,
) -> None:
    """Per-neuron quantities (shape ``(N,)``) must match the input's last dimension.

    Broadcasting would otherwise pair a layer of ``N`` devices with a wider input, or
    fail deep inside the integrator.
    """
    _check_width(x, "params", device.m_rest.shape[:-1])
    for name, t in (("threshold", threshold), ("j_bias", j_bias), ("scale", scale)):
        if t is not None:
            _check_width(x, name, t.shape)


def _check_width(x: Tensor, name: str, shape: torch.Size) -> None:
    """Per-neuron values (shape ``(N,)``) must match the input's last dimension."""
    n = shape[-1] if len(shape) else 1
    if len(shape) > 1 or (n != 1 and (x.dim() == 0 or x.shape[-1] != n)):
        width = x.shape[-1] if x.dim() else "none (a scalar input)"
        raise ValueError(
            f"{name} holds per-neuron values of shape {tuple(shape)} but the input "
            f"has shape {tuple(x.shape)}: its last dimension ({width}) must equal the "
            "number of neurons. Give one value per neuron, or a single value."
        )


#: Below this drive (A/m^2) no SHNO moves: thresholds are 1e10 to 3e12 A/m^2.
_NEGLIGIBLE_DRIVE = 1e6


def _warn_if_not_a_current_density(j: Tensor, j_bias: Tensor) -> None:
    """Warn when an unscaled input looks like LIF-sized numbers, not A/m^2.

    The usual slip when swapping a LIF layer for SHNO: ``Linear`` outputs of order 1
    fed as current densities of 1 A/m^2, which leave every neuron silent forever.
    """
    if j.numel() == 0:
        return
    drive = float(j.detach().abs().max()) + float(j_bias.detach().abs().max())
    if 0.0 < drive < _NEGLIGIBLE_DRIVE:
        warnings.warn(
            f"the input reaches at most {drive:.3g} A/m^2 with scale=None (inputs are "
            "then current densities), far below any SHNO threshold (1e10 to 3e12 "
            "A/m^2): the neurons will not spike. Pass scale=... (A/m^2 per input "
            "unit, e.g. the device's threshold_current_density()) or feed A/m^2.",
            UserWarning,
            stacklevel=4,
        )


def run_step(
    x: Tensor,
    state: SHNOState,
    device: DeviceParameters,
    settings: NeuronParameters,
    *,
    threshold: Tensor,
    j_bias: Tensor,
    surrogate: Callable[[Tensor], Tensor],
    scale: Tensor | None,
    dt: float,
    **overrides: Any,
) -> tuple[Tensor, SHNOState]:
    """Scale the input to a current density and call the functional step.

    Args:
        x: input, shape ``S``; multiplied by ``scale`` (A/m^2 per input unit) when it
            is given, else already a current density in A/m^2.
        state: state with ``m`` of shape ``S + (3,)`` in the dtype of ``x``.
        device: the layer's device parameters.
        settings: the other spike-rule and integrator settings (its ``threshold``,
            ``j_bias`` and ``surrogate`` are replaced by the arguments below).
        threshold: readout threshold, dimensionless, shape ``()`` or ``(N,)``.
        j_bias: bias current density, A/m^2, shape ``()`` or ``(N,)``.
        surrogate: spike function with a surrogate gradient.
        scale: input scale, A/m^2 per input unit, or None.
        dt: network step, s.
        **overrides: further fields of ``settings`` to replace (e.g. ``reset``).

    Returns:
        ``(spikes, new_state)`` of :func:`~shno_neurons.functional.shno_step`.
    """
    dtype = x.dtype
    j = x * scale.to(dtype) if scale is not None else x
    if scale is None and not torch.compiler.is_compiling():
        _warn_if_not_a_current_density(j, j_bias)
    neuron = dataclasses.replace(
        settings,
        threshold=threshold.to(dtype),
        j_bias=j_bias.to(dtype),
        surrogate=surrogate,
        **overrides,
    )
    m_rest = device.m_rest.to(dtype=dtype)
    return shno_step(
        j, state, device.shno_parameters(checked=False), dt, neuron, m_rest=m_rest
    )
