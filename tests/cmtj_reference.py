"""Drive the independent macrospin solver ``cmtj`` with our device parameters.

Shared by ``tests/test_cmtj.py`` and ``benchmarks/bench_cmtj.py``. cmtj is GPL-2.0:
it is a test and benchmark dependency only, never imported by the library. It takes
Ms in tesla (built here with cmtj's own mu0), fields in A/m, and the anisotropy as an
energy density.
"""

from __future__ import annotations

import cmtj
import numpy as np


def cmtj_trajectory(p, j, m0, t_end, dt, log_every=None):
    """Run cmtj on the device ``p`` at current density ``j``; return (t, m).

    ``p`` is an :class:`~shno_neurons.SHNOParameters` with float fields, ``j`` in
    A/m^2, ``m0`` a unit 3-vector; cmtj logs every ``log_every`` seconds (default
    ``dt``). Its log is one step late: the entry stamped ``t`` holds ``m(t + dt)``.
    """
    mu0_cmtj = cmtj.constants.PhysicalConstants.magnetic_permeability()
    ms_tesla = mu0_cmtj * p.ms
    a_dl = p.h_dl_per_j()
    demag = [cmtj.CVector(*row) for row in np.diag(p.demag)]
    layer = cmtj.Layer.createSOTLayer(
        "free",
        cmtj.CVector(*m0),
        cmtj.CVector(*p.easy_axis),
        ms_tesla,
        p.t_fm,
        p.volume / p.t_fm,
        demag,
        damping=p.alpha,
        fieldLikeTorque=p.beta_fl * a_dl,
        dampingLikeTorque=a_dl,
    )
    layer.setReferenceLayer(cmtj.CVector(*p.sigma))
    junction = cmtj.Junction([layer])
    constant = cmtj.ScalarDriver.getConstantDriver
    junction.setLayerExternalFieldDriver(
        "all", cmtj.AxialDriver(*[constant(h) for h in p.h_ext])
    )
    junction.setLayerAnisotropyDriver("free", constant(p.h_k * ms_tesla / 2))
    junction.setLayerCurrentDriver("free", constant(j))  # H_DL = a_DL * j
    junction.runSimulation(t_end, dt, dt if log_every is None else log_every)
    log = junction.getLog()
    m = np.stack([log["free_mx"], log["free_my"], log["free_mz"]], axis=-1)
    return np.asarray(log["time"]), m
