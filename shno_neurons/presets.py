"""Named device presets from published spin Hall nano-oscillators.

Each preset is an :class:`~shno_neurons.parameters.SHNOParameters`; change a field with
``preset.replace(alpha=0.01)``. The natural spike readout of each device is part of the
preset (``readout_axis`` and ``readout``); the reset that suits it is noted below.
"""

from __future__ import annotations

import math

from .constants import MU0
from .parameters import SHNOParameters

__all__ = ["NIFE_PT", "COFEB_PT_INPLANE", "W_COFEB_PMA", "EASY_PLANE", "PRESETS"]

#: Set A: NiFe(5 nm)/Pt nano-constriction SHNO as a macrospin.
#:
#: mu0 Ms = 0.74 T, alpha = 0.02, t_FM = 5 nm, theta_SH = 0.08, an in-plane field
#: mu0 H = 0.1 T along +x, thin-film demagnetization, spin polarization along -x
#: (antiparallel to the equilibrium m: the antidamping, auto-oscillating geometry).
#: Kittel frequency 8.12 GHz, threshold ``j_c`` = 1.05e12 A/m^2. Readout: linear m_y
#: (a Hall bar or tunnel junction on the constriction). Reset: any of snnTorch's.
#:
#: References: V. E. Demidov et al., Nat. Mater. 11, 1028 (2012);
#: A. A. Awad et al., Nat. Phys. 13, 292 (2017).
NIFE_PT = SHNOParameters()

#: The in-plane design of the notebook this project grew from: easy axis x, spin
#: polarization y, mu0 H_K = 0.05 T, mu0 Ms = 0.8 T, alpha = 0.03, theta_SH = 0.12,
#: t_FM = 1.5 nm, no applied field, linear m_y readout. With sigma normal to m the
#: spin torque tilts m toward y rather than pumping a precession: only currents of
#: order 5e12 A/m^2 move the readout (see docs/physics.md, operating point). Its
#: threshold has no closed form; find it with
#: :func:`shno_neurons.characterise.sweep_current`.
COFEB_PT_INPLANE = SHNOParameters(
    ms=0.8 / MU0,
    alpha=0.03,
    t_fm=1.5e-9,
    theta_sh=0.12,
    h_ext=(0.0, 0.0, 0.0),
    h_k=0.05 / MU0,
    easy_axis=(1.0, 0.0, 0.0),
    demag=(0.0, 0.0, 1.0),
    sigma=(0.0, 1.0, 0.0),
    volume=100e-9 * 50e-9 * 1.5e-9,
)

_W_FIELD = 0.6 / MU0
_W_THETA = math.radians(70.0)

#: Set B: W/CoFeB/MgO nano-constriction SHNO with interfacial perpendicular anisotropy,
#: the family used in mutually synchronized arrays for neuromorphic computing.
#:
#: mu0 Ms = 1.25 T and mu0 Meff = 0.3 T (folded in as N_z = Meff / Ms = 0.24),
#: alpha = 0.02, t_FM = 1.4 nm, theta_SH = -0.44 (beta-W), a 0.6 T field 70 degrees out
#: of plane. The current runs along +x, so ``sigma = z x x = +y``; with theta_SH < 0 the
#: effective polarization is -y, and the field's in-plane part points along +y,
#: antiparallel to it. m0 sits about 57 degrees out of plane, f0 = 11.7 GHz and the
#: macrospin threshold is about 1.5e11 A/m^2 (measured thresholds are higher: real modes
#: are not uniform and part of the current flows in the CoFeB). Readout: linear, along
#: x, the in-plane direction normal to the static tilt plane.
#:
#: References: M. Zahedinejad et al., Appl. Phys. Lett. 112, 132404 (2018);
#: M. Zahedinejad et al., Nat. Nanotechnol. 15, 47 (2020).
W_COFEB_PMA = SHNOParameters(
    ms=1.25 / MU0,
    alpha=0.02,
    t_fm=1.4e-9,
    theta_sh=-0.44,
    h_ext=(0.0, _W_FIELD * math.cos(_W_THETA), _W_FIELD * math.sin(_W_THETA)),
    h_k=0.0,
    demag=(0.0, 0.0, 0.3 / 1.25),
    sigma=(0.0, 1.0, 0.0),
    volume=math.pi * (40e-9) ** 2 * 1.4e-9,
    readout_axis=(1.0, 0.0, 0.0),
)

#: Set D: the easy-plane SHNO spiking neuron of Markovic et al.
#:
#: Spin polarization normal to a strong easy plane (mu0 Meff = 1 T), a weak in-plane
#: uniaxial anisotropy mu0 H_K = 2 mT along x, alpha = 0.02, no applied field. Below
#: ``H_DL = H_K / 2`` m tilts statically and relaxes back when the drive stops (the
#: leak); above it the in-plane phase slips and every half turn is one spike, read as a
#: pulse of the magnetoresistance: the readout is quadratic, ``(m_y)^2``. The reset is
#: the magnet falling into its next minimum by itself: use ``reset="none"``. With this
#: low damping the neuron is underdamped and jumps to GHz spiking right at threshold.
#:
#: Reference: D. Markovic, M. W. Daniels, P. Sethi, A. D. Kent, M. D. Stiles,
#: J. Grollier, Phys. Rev. B 105, 014411 (2022).
EASY_PLANE = SHNOParameters(
    ms=1.0 / MU0,
    alpha=0.02,
    t_fm=1.0e-9,
    theta_sh=0.1,
    h_ext=(0.0, 0.0, 0.0),
    h_k=2e-3 / MU0,
    easy_axis=(1.0, 0.0, 0.0),
    demag=(0.0, 0.0, 1.0),
    sigma=(0.0, 0.0, 1.0),
    volume=math.pi * (50e-9) ** 2 * 1.0e-9,
    readout_axis=(0.0, 1.0, 0.0),
    readout="quadratic",
)

#: Presets by name, for command lines and configuration files.
PRESETS: dict[str, SHNOParameters] = {
    "nife_pt": NIFE_PT,
    "cofeb_pt_inplane": COFEB_PT_INPLANE,
    "w_cofeb_pma": W_COFEB_PMA,
    "easy_plane": EASY_PLANE,
}
