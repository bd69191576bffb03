"""Physical constants (CODATA 2018), in SI units.

This module is the only place in the package where these numbers are written down;
every other module imports them from here.
"""

from __future__ import annotations

import math

__all__ = [
    "MU0",
    "GAMMA_E",
    "GAMMA0",
    "HBAR",
    "E_CHARGE",
    "K_B",
    "CMTJ_GAMMA0",
]

#: Vacuum permeability, T m / A.
MU0: float = 1.25663706212e-6
#: Electron gyromagnetic ratio, rad / (s T) (28.025 GHz/T).
GAMMA_E: float = 1.76085963023e11
#: Gyromagnetic ratio for fields in A/m, ``mu0 * gamma_e``, m / (A s).
GAMMA0: float = MU0 * GAMMA_E
#: Reduced Planck constant, J s.
HBAR: float = 1.054571817e-34
#: Elementary charge, C.
E_CHARGE: float = 1.602176634e-19
#: Boltzmann constant, J / K.
K_B: float = 1.380649e-23
#: The gyromagnetic ratio hard-coded in the ``cmtj`` solver, m / (A s); only used to
#: compare against it (0.18% below ``GAMMA0``).
CMTJ_GAMMA0: float = 2.2088e5

TWO_PI: float = 2.0 * math.pi
