"""shno-neurons: spin Hall nano-oscillator spiking neurons for snnTorch and Norse.

Layers, each importing only those above it:

1. Physics: :mod:`~shno_neurons.constants`, :mod:`~shno_neurons.parameters`,
   :mod:`~shno_neurons.presets`, :mod:`~shno_neurons.llgs`,
   :mod:`~shno_neurons.characterise`.
2. The neuron as a pure function: :mod:`~shno_neurons.functional` (and its fused
   kernels in :mod:`~shno_neurons.fused`).
3. Front-ends: :mod:`shno_neurons.snntorch` and :mod:`shno_neurons.norse`, plus
   :func:`reset`.
4. Adapters (plots, baselines, data, the hybrid classifier):
   :mod:`shno_neurons.adapters`.

Importing this package loads the physics and the functional neuron only; the
front-ends and adapters load when first used, so the core never touches matplotlib or
torchvision.
"""

from __future__ import annotations

import importlib
from typing import Any

from . import presets
from .functional import (
    NeuronParameters,
    SHNOState,
    initial_state,
    readout,
    rest_direction,
    shno_step,
)
from .llgs import llgs_rhs, simulate
from .parameters import SHNOParameters, with_device_spread

# Imported eagerly: a lazy import of the submodule ``reset`` would rebind the package
# attribute ``reset`` to the module. reset.py imports snnTorch only when called.
from .reset import reset

__version__ = "0.1.0"

__all__ = [
    "SHNOParameters",
    "NeuronParameters",
    "SHNOState",
    "initial_state",
    "shno_step",
    "readout",
    "rest_direction",
    "simulate",
    "llgs_rhs",
    "with_device_spread",
    "presets",
    "reset",
    "__version__",
]

_LAZY_MODULES = {"snntorch", "norse", "adapters", "characterise", "fused"}


def __getattr__(name: str) -> Any:
    # Front-ends and adapters import heavier libraries; load them on first access.
    if name in _LAZY_MODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'shno_neurons' has no attribute {name!r}")
