"""Shared test helpers: the per-dtype tolerance table and fresh-object fixtures.

Every numerical tolerance that depends on the floating dtype lives in :data:`TOL`, so a
change of precision is one edit here, not a hunt through the tests. Tolerances that are
physics statements (e.g. "within 2% of the closed-form threshold") stay in the tests
that make them.
"""

from __future__ import annotations

import pytest
import torch

from shno_neurons import presets
from shno_neurons.parameters import SHNOParameters

#: Absolute tolerances per dtype.
#:
#: * ``norm``: largest ``| |m| - 1 |`` after any step (renormalisation leaves a few
#:   ulps).
#: * ``same``: two computations of the same quantity by different but equivalent
#:   operation orders (broadcast vs one-by-one, fused vs eager).
#: * ``rhs``: relative agreement of ``dm/dt`` evaluated in two equivalent ways.
TOL: dict[torch.dtype, dict[str, float]] = {
    torch.float32: {"norm": 1e-6, "same": 1e-5, "rhs": 1e-5},
    torch.float64: {"norm": 1e-14, "same": 1e-12, "rhs": 1e-12},
}

DTYPES = [torch.float32, torch.float64]


def _lookup(dtype: torch.dtype, kind: str) -> float:
    return TOL[dtype][kind]


@pytest.fixture
def tol():
    """``tol(dtype, kind)``: the tolerance of ``kind`` (a key of :data:`TOL`)."""
    return _lookup


@pytest.fixture(params=DTYPES, ids=["float32", "float64"])
def dtype(request) -> torch.dtype:
    """Run a test once in float32 and once in float64."""
    return request.param


@pytest.fixture
def set_a() -> SHNOParameters:
    """Set A (NiFe/Pt), a fresh copy per test."""
    return presets.NIFE_PT.replace()


@pytest.fixture
def generator() -> torch.Generator:
    """A freshly seeded CPU random generator."""
    return torch.Generator().manual_seed(1234)
