r"""CPU kernels of the fused substep loop, compiled with numba (private module).

The public entry point is :mod:`shno_neurons.fused`; this module holds only the numba
kernels and their layout conventions.

Equation. With the drive ``h_dl = a_DL j`` held constant over a network step, the total
field of :mod:`shno_neurons.llgs` is affine in ``m``:

.. math::

    H_t = H_0 + A\,m,\qquad H_0 = H_\mathrm{ext} + \beta_\mathrm{FL} h_\mathrm{DL}
    \sigma,\qquad A = H_K\,u u^T - \mathrm{diag}(M_s N) + h_\mathrm{DL}\,[\cdot
    \times\sigma],

so each neuron's right-hand side ``h dm/dt = c1 (m x H_t) + c2 m x (m x H_t)`` with
``c1 = -h gamma`` and ``c2 = c1 alpha`` needs 14 numbers, formed once per network
step (:func:`_derive`). One right-hand side costs 27 floating-point operations, most of
them fused multiply-adds; it equals ``llgs._rhs`` up to rounding.

Layout. Each kernel walks its neurons in blocks of ``_BK`` and copies a block into
small structure-of-arrays scratch (``(rows, _BK)``): the innermost loop runs over the
neurons of a block with unit stride and a constant trip count, which LLVM vectorizes
(16 float32 or 8 float64 lanes with AVX-512), while the substep loop sits outside it.
The last block is padded with copies of its last neuron, and only real neurons are
written back. The kernels are serial and release the GIL (``nogil``):
:mod:`shno_neurons.fused` runs them on slices of the neurons from a thread pool.
There is one kernel per integrator, so that a process compiles only what it uses.

What keeps the inner loops vectorized (each was measured to cost a factor of 10 to 30
when broken): no Python ``max``/``min`` builtins inside them (numba lowers those to
calls); no per-method branches inside them; constant rows of the scratch arrays; and
the reverse sweep reads its substep through an index array, because a loop counter
running downward makes LLVM's hoisted aliasing check fail at run time.

Inputs (C-contiguous numpy arrays of one floating dtype):

* ``m`` ``(n, 3)``, ``armed`` ``(n,)``, ``hdl`` ``(n,)`` (``a_DL j``, A/m);
* ``pack`` ``(Q, 19)``, neuron ``first + i`` reading row ``(first + i) % Q``:
  columns ``0:3`` ``h_ext``, ``3`` ``h_k``, ``4:7`` easy axis ``u``, ``7:10``
  ``Ms N``, ``10:13`` ``sigma``, ``13`` ``beta_fl``, ``14`` ``gamma``, ``15``
  ``alpha``, ``16:19`` readout axis (``first`` is the slice's offset in the layer);
* ``levels`` ``(Qt, 2)``: threshold and re-arm level, row ``(first + i) % Qt``.

Backward. The ``backward_*`` kernels recompute a block's substeps from the state saved
at the step boundary, keeping each substep's stage inputs, norm, readout and running
maximum in scratch (``(n_sub + 1, 15, _BK)``: 390 kB in float32 for 100 substeps),
then sweep the substeps in reverse applying the exact discrete adjoint: the
vector-Jacobian product of each stage, of the renormalisation and of the running
maximum of the readout, with PyTorch's rule for ties (equal arguments of ``maximum``
share the gradient). Per neuron they also accumulate the gradients of ``H_0``, ``A``,
``c1`` and ``c2`` and map them onto the pack columns, so learnable device parameters
get exact gradients.

Floating-point mode: ``fastmath={"contract"}`` lets LLVM fuse multiply-adds and nothing
else (no reassociation; exact division and square root); ``error_model="numpy"`` lets
division follow IEEE rules instead of raising. Float64 results agree with the eager
PyTorch path to about 1e-15 per substep.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["FORWARD", "BACKWARD", "N_PACK", "N_PACK_GRAD"]

#: Columns of the parameter pack, and how many of them carry gradients (all but the
#: readout axis).
N_PACK = 19
N_PACK_GRAD = 16

_FM = {"contract"}
_JIT = {"fastmath": _FM, "error_model": "numpy", "nogil": True, "cache": True}
_INLINE = {"fastmath": _FM, "error_model": "numpy", "inline": "always"}

#: Neurons per block. 32 float64 neurons keep the forward scratch (25 rows) at 6 kB,
#: inside L1; the backward's per-substep record lives in L2.
_BK = 32
_NPAR = 19  # derived rows: H0 (3), A (9), c1, c2, readout axis (3), threshold, re-arm
# The backward keeps its adjoint state and its 14 coefficient-gradient accumulators in
# one scratch array, so LLVM checks one pair of objects for aliasing, not dozens.
_ACC = 6
# Rows of the backward's per-substep record: stage inputs (up to 4 x 3), the norm
# before renormalising, the linear readout and the running maximum before the substep.
_S_NRM = 12
_S_RA = 13
_S_MAX = 14
_N_SLOT = 15


@njit(**_INLINE)
def _derive(pack, q, d, hh, par, i):
    """Fill ``par[:, i]`` with H0, A, c1, c2, axis, from pack row ``q``, drive ``d``."""
    hk = pack[q, 3]
    ux = pack[q, 4]
    uy = pack[q, 5]
    uz = pack[q, 6]
    sx = pack[q, 10]
    sy = pack[q, 11]
    sz = pack[q, 12]
    bd = pack[q, 13] * d
    par[0, i] = pack[q, 0] + bd * sx
    par[1, i] = pack[q, 1] + bd * sy
    par[2, i] = pack[q, 2] + bd * sz
    par[3, i] = hk * ux * ux - pack[q, 7]
    par[4, i] = hk * ux * uy + d * sz
    par[5, i] = hk * ux * uz - d * sy
    par[6, i] = hk * uy * ux - d * sz
    par[7, i] = hk * uy * uy - pack[q, 8]
    par[8, i] = hk * uy * uz + d * sx
    par[9, i] = hk * uz * ux + d * sy
    par[10, i] = hk * uz * uy - d * sx
    par[11, i] = hk * uz * uz - pack[q, 9]
    c1 = -(hh * pack[q, 14])
    par[12, i] = c1
    par[13, i] = c1 * pack[q, 15]
    par[14, i] = pack[q, 16]
    par[15, i] = pack[q, 17]
    par[16, i] = pack[q, 18]


@njit(**_INLINE)
def _f(x, y, z, par, i):
    """``h dm/dt`` at ``(x, y, z)`` for neuron ``i`` of the block."""
    hx = par[0, i] + par[3, i] * x + par[4, i] * y + par[5, i] * z
    hy = par[1, i] + par[6, i] * x + par[7, i] * y + par[8, i] * z
    hz = par[2, i] + par[9, i] * x + par[10, i] * y + par[11, i] * z
    px = y * hz - z * hy
    py = z * hx - x * hz
    pz = x * hy - y * hx
    qx = y * pz - z * py
    qy = z * px - x * pz
    qz = x * py - y * px
    c1 = par[12, i]
    c2 = par[13, i]
    return c1 * px + c2 * qx, c1 * py + c2 * qy, c1 * pz + c2 * qz


@njit(**_INLINE)
def _f_vjp(x, y, z, gx, gy, gz, par, wk, i):
    """Vector-Jacobian product of :func:`_f` at ``(x, y, z)`` with cotangent ``g``.

    Returns the gradient with respect to the point and adds the gradients of ``H0``,
    ``A`` (row-major), ``c1`` and ``c2`` into rows ``_ACC:_ACC + 14`` of ``wk[:, i]``.
    With ``H = H0 + A x``, ``p = x x H`` and ``q = x x p = x (x.H) - H (x.x)``.
    """
    a00 = par[3, i]
    a01 = par[4, i]
    a02 = par[5, i]
    a10 = par[6, i]
    a11 = par[7, i]
    a12 = par[8, i]
    a20 = par[9, i]
    a21 = par[10, i]
    a22 = par[11, i]
    c1 = par[12, i]
    c2 = par[13, i]
    hx = par[0, i] + a00 * x + a01 * y + a02 * z
    hy = par[1, i] + a10 * x + a11 * y + a12 * z
    hz = par[2, i] + a20 * x + a21 * y + a22 * z

    # Scalars of q and of the cotangent.
    s = x * gx + y * gy + z * gz
    t = x * hx + y * hy + z * hz
    nn = x * x + y * y + z * z
    hg = hx * gx + hy * gy + hz * gz
    # H x g, used by the point gradient and by dL/dc1 = g . (x x H) = x . (H x g).
    bx = hy * gz - hz * gy
    by = hz * gx - hx * gz
    bz = hx * gy - hy * gx

    # Gradient with respect to the total field: c1 (g x x) + c2 (s x - n g).
    c2s = c2 * s
    c2n = c2 * nn
    yx = c1 * (gy * z - gz * y) + c2s * x - c2n * gx
    yy = c1 * (gz * x - gx * z) + c2s * y - c2n * gy
    yz = c1 * (gx * y - gy * x) + c2s * z - c2n * gz

    # Gradient with respect to the point: through H (A^T y) and explicitly.
    c2h = c2 * hg
    c2h = c2h + c2h
    c2t = c2 * t
    ox = a00 * yx + a10 * yy + a20 * yz + c1 * bx + c2s * hx + c2t * gx - c2h * x
    oy = a01 * yx + a11 * yy + a21 * yz + c1 * by + c2s * hy + c2t * gy - c2h * y
    oz = a02 * yx + a12 * yy + a22 * yz + c1 * bz + c2s * hz + c2t * gz - c2h * z

    # Coefficient gradients.
    wk[_ACC + 0, i] += yx
    wk[_ACC + 1, i] += yy
    wk[_ACC + 2, i] += yz
    wk[_ACC + 3, i] += yx * x
    wk[_ACC + 4, i] += yx * y
    wk[_ACC + 5, i] += yx * z
    wk[_ACC + 6, i] += yy * x
    wk[_ACC + 7, i] += yy * y
    wk[_ACC + 8, i] += yy * z
    wk[_ACC + 9, i] += yz * x
    wk[_ACC + 10, i] += yz * y
    wk[_ACC + 11, i] += yz * z
    wk[_ACC + 12, i] += x * bx + y * by + z * bz
    wk[_ACC + 13, i] += s * t - hg * nn
    return ox, oy, oz


@njit(**_INLINE)
def _rk4(x, y, z, par, i):
    """Classical RK4 from ``(x, y, z)``: the unnormalised result and stage inputs."""
    half = par.dtype.type(0.5)
    two = par.dtype.type(2.0)
    sixth = par.dtype.type(1.0 / 6.0)
    k1x, k1y, k1z = _f(x, y, z, par, i)
    x2 = x + half * k1x
    y2 = y + half * k1y
    z2 = z + half * k1z
    k2x, k2y, k2z = _f(x2, y2, z2, par, i)
    x3 = x + half * k2x
    y3 = y + half * k2y
    z3 = z + half * k2z
    k3x, k3y, k3z = _f(x3, y3, z3, par, i)
    x4 = x + k3x
    y4 = y + k3y
    z4 = z + k3z
    k4x, k4y, k4z = _f(x4, y4, z4, par, i)
    vx = x + sixth * (k1x + two * k2x + two * k3x + k4x)
    vy = y + sixth * (k1y + two * k2y + two * k3y + k4y)
    vz = z + sixth * (k1z + two * k2z + two * k3z + k4z)
    return vx, vy, vz, x2, y2, z2, x3, y3, z3, x4, y4, z4


@njit(**_INLINE)
def _heun(x, y, z, par, i):
    """Heun's step from ``(x, y, z)``: the unnormalised result and the predictor."""
    half = par.dtype.type(0.5)
    k1x, k1y, k1z = _f(x, y, z, par, i)
    x2 = x + k1x
    y2 = y + k1y
    z2 = z + k1z
    k2x, k2y, k2z = _f(x2, y2, z2, par, i)
    vx = x + half * (k1x + k2x)
    vy = y + half * (k1y + k2y)
    vz = z + half * (k1z + k2z)
    return vx, vy, vz, x2, y2, z2


@njit(**_INLINE)
def _euler(x, y, z, par, i):
    """Explicit Euler step from ``(x, y, z)``, unnormalised."""
    kx, ky, kz = _f(x, y, z, par, i)
    return x + kx, y + ky, z + kz


@njit(**_INLINE)
def _normalise(vx, vy, vz, one):
    """``v / |v|`` and ``|v|`` (``one`` is 1 in the kernel's dtype).

    Multiplies by ``1 / |v|`` where the eager path divides three times: one rounding
    more (1 ulp), two divisions fewer per substep (0.4 ns per neuron-substep).
    """
    nrm = np.sqrt(vx * vx + vy * vy + vz * vz)
    inv = one / nrm
    return vx * inv, vy * inv, vz * inv, nrm


@njit(**_INLINE)
def _readout(x, y, z, par, i, quadratic):
    """Linear readout ``m . a`` and the spike signal (squared when quadratic)."""
    ra = x * par[14, i] + y * par[15, i] + z * par[16, i]
    return ra, ra * ra if quadratic else ra


# ----------------------------------------------------------------------------------
# Forward


@njit(**_INLINE)
def _open_block(m, hdl, pack, levels, first, lo, length, hh, st, par):
    """Copy neurons ``lo:lo+length`` into the block scratch and derive coefficients.

    Slots past ``length`` repeat the last neuron, so the compute loops run a constant
    trip count on finite numbers. Pack and level rows advance with the neuron and wrap
    (an integer division per neuron would cost more than the coefficients).
    """
    q_n = pack.shape[0]
    t_n = levels.shape[0]
    q = (first + lo) % q_n
    t = (first + lo) % t_n
    for i in range(_BK):
        g = lo + (i if i < length else length - 1)
        st[0, i] = m[g, 0]
        st[1, i] = m[g, 1]
        st[2, i] = m[g, 2]
        _derive(pack, q, hdl[g], hh, par, i)
        par[17, i] = levels[t, 0]
        par[18, i] = levels[t, 1]
        if i < length - 1:
            q = q + 1 if q + 1 < q_n else 0
            t = t + 1 if t + 1 < t_n else 0


@njit(**_INLINE)
def _open_forward(m, armed, hdl, pack, levels, first, lo, hh, st, par):
    """Load a forward block (state, armed flag, fired = 0, u = -inf); its length."""
    length = min(m.shape[0], lo + _BK) - lo
    _open_block(m, hdl, pack, levels, first, lo, length, hh, st, par)
    for i in range(_BK):
        st[3, i] = armed[lo + (i if i < length else length - 1)]
        st[4, i] = 0.0
        st[5, i] = -np.inf
    return length


@njit(**_INLINE)
def _settle(st, par, i, vx, vy, vz, quadratic):
    """Renormalise, store m, then readout, crossing detection and re-arming.

    The eager path's rule: an armed neuron fires when the readout reaches the
    threshold and is disarmed; it re-arms below the re-arm level; ``u`` keeps the
    largest readout (``u`` turns NaN with m, like ``torch.maximum``).
    """
    one = st.dtype.type(1.0)
    zero = st.dtype.type(0.0)
    x, y, z, _ = _normalise(vx, vy, vz, one)
    st[0, i] = x
    st[1, i] = y
    st[2, i] = z
    _, r = _readout(x, y, z, par, i, quadratic)
    armed = st[3, i]
    hit = armed if r >= par[17, i] else zero
    fired = st[4, i]
    st[4, i] = hit if hit > fired else fired
    left = armed - hit
    rearm = one if r < par[18, i] else zero
    st[3, i] = rearm if rearm > left else left
    u = st[5, i]
    st[5, i] = u if r <= u else r


@njit(**_INLINE)
def _close_forward(st, lo, length, m_out, armed_out, fired, u):
    for i in range(length):
        g = lo + i
        m_out[g, 0] = st[0, i]
        m_out[g, 1] = st[1, i]
        m_out[g, 2] = st[2, i]
        armed_out[g] = st[3, i]
        fired[g] = st[4, i]
        u[g] = st[5, i]


@njit(**_JIT)
def forward_rk4(
    m, armed, hdl, pack, levels, first, n_sub, h, quadratic, m_out, armed_out, fired, u
):
    """``n_sub`` RK4 substeps of length ``h`` (s) with crossing detection.

    Writes ``m_out`` ``(n, 3)``, ``armed_out``, ``fired`` and ``u`` (the largest
    readout over the substeps), each ``(n,)``; inputs as in the module docstring.
    """
    st = np.empty((6, _BK), m.dtype)  # m (3), armed, fired, u
    par = np.empty((_NPAR, _BK), m.dtype)
    hh = m.dtype.type(h)
    for lo in range(0, m.shape[0], _BK):
        length = _open_forward(m, armed, hdl, pack, levels, first, lo, hh, st, par)
        for _ in range(n_sub):
            for i in range(_BK):
                v = _rk4(st[0, i], st[1, i], st[2, i], par, i)
                _settle(st, par, i, v[0], v[1], v[2], quadratic)
        _close_forward(st, lo, length, m_out, armed_out, fired, u)


@njit(**_JIT)
def forward_heun(
    m, armed, hdl, pack, levels, first, n_sub, h, quadratic, m_out, armed_out, fired, u
):
    """As :func:`forward_rk4` with Heun substeps."""
    st = np.empty((6, _BK), m.dtype)
    par = np.empty((_NPAR, _BK), m.dtype)
    hh = m.dtype.type(h)
    for lo in range(0, m.shape[0], _BK):
        length = _open_forward(m, armed, hdl, pack, levels, first, lo, hh, st, par)
        for _ in range(n_sub):
            for i in range(_BK):
                v = _heun(st[0, i], st[1, i], st[2, i], par, i)
                _settle(st, par, i, v[0], v[1], v[2], quadratic)
        _close_forward(st, lo, length, m_out, armed_out, fired, u)


@njit(**_JIT)
def forward_euler(
    m, armed, hdl, pack, levels, first, n_sub, h, quadratic, m_out, armed_out, fired, u
):
    """As :func:`forward_rk4` with Euler substeps."""
    st = np.empty((6, _BK), m.dtype)
    par = np.empty((_NPAR, _BK), m.dtype)
    hh = m.dtype.type(h)
    for lo in range(0, m.shape[0], _BK):
        length = _open_forward(m, armed, hdl, pack, levels, first, lo, hh, st, par)
        for _ in range(n_sub):
            for i in range(_BK):
                v = _euler(st[0, i], st[1, i], st[2, i], par, i)
                _settle(st, par, i, v[0], v[1], v[2], quadratic)
        _close_forward(st, lo, length, m_out, armed_out, fired, u)


# ----------------------------------------------------------------------------------
# Backward


@njit(**_INLINE)
def _open_backward(m, hdl, pack, first, lo, hh, wk, par, buf):
    """Load a backward block; its state goes to record 0. Returns the block length."""
    length = min(m.shape[0], lo + _BK) - lo
    levels = np.zeros((1, 2), m.dtype)  # the adjoint needs no threshold
    _open_block(m, hdl, pack, levels, first, lo, length, hh, wk, par)
    for i in range(_BK):
        buf[0, 0, i] = wk[0, i]
        buf[0, 1, i] = wk[1, i]
        buf[0, 2, i] = wk[2, i]
        wk[4, i] = -np.inf
    return length


@njit(**_INLINE)
def _record(buf, s, wk, par, i, vx, vy, vz, quadratic):
    """Renormalise and keep m, the norm, the readout and the running maximum."""
    x, y, z, nrm = _normalise(vx, vy, vz, wk.dtype.type(1.0))
    buf[s + 1, 0, i] = x
    buf[s + 1, 1, i] = y
    buf[s + 1, 2, i] = z
    ra, r = _readout(x, y, z, par, i, quadratic)
    u = wk[4, i]
    buf[s, _S_NRM, i] = nrm
    buf[s, _S_RA, i] = ra
    buf[s, _S_MAX, i] = u
    wk[4, i] = u if r <= u else r


@njit(**_INLINE)
def _open_reverse(wk, g_m, g_u, lo, length):
    """Seed the adjoint with the incoming gradients; zero the accumulators."""
    for i in range(_BK):
        g = lo + (i if i < length else length - 1)
        wk[0, i] = g_m[g, 0]
        wk[1, i] = g_m[g, 1]
        wk[2, i] = g_m[g, 2]
        wk[3, i] = g_u[g]
        for k in range(14):
            wk[_ACC + k, i] = 0.0


@njit(**_INLINE)
def _adjoint_head(buf, s, wk, par, i, quadratic):
    """Adjoint of substep ``s``'s readout maximum and renormalisation.

    Adds the gradient of ``u`` that reaches this substep's readout to the adjoint of
    m (``wk[0:3]``) and returns the adjoint of the unnormalised update ``v``.
    """
    half = wk.dtype.type(0.5)
    zero = wk.dtype.type(0.0)
    one = wk.dtype.type(1.0)
    lx = wk[0, i]
    ly = wk[1, i]
    lz = wk[2, i]

    # Running maximum u = max(u, r): the gradient goes to the larger argument and is
    # shared equally on a tie (torch.maximum's rule); wk[3] is what is left for the
    # earlier substeps.
    ra = buf[s, _S_RA, i]
    r = ra * ra if quadratic else ra
    prev = buf[s, _S_MAX, i]
    w = wk[3, i]
    gr = w if r > prev else (half * w if r == prev else zero)
    wk[3, i] = w - gr
    gr = (ra + ra) * gr if quadratic else gr
    lx += gr * par[14, i]
    ly += gr * par[15, i]
    lz += gr * par[16, i]

    # Renormalisation m' = v / |v|: the adjoint of v is (l - m' (m'.l)) / |v|.
    mx = buf[s + 1, 0, i]
    my = buf[s + 1, 1, i]
    mz = buf[s + 1, 2, i]
    inv = one / buf[s, _S_NRM, i]
    dot = mx * lx + my * ly + mz * lz
    return (lx - mx * dot) * inv, (ly - my * dot) * inv, (lz - mz * dot) * inv


@njit(**_INLINE)
def _rk4_adjoint(buf, s, wk, par, i, vx, vy, vz):
    """Adjoint of one RK4 step, given the adjoint ``v`` of its unnormalised result.

    ``v = x + (k1 + 2 k2 + 2 k3 + k4) / 6`` with ``k4 = f(x + k3)``,
    ``k3 = f(x + k2 / 2)``, ``k2 = f(x + k1 / 2)``, ``k1 = f(x)``: each stage's input
    adjoint feeds ``x`` and the stage before it.
    """
    half = wk.dtype.type(0.5)
    third = wk.dtype.type(1.0 / 3.0)
    sixth = wk.dtype.type(1.0 / 6.0)
    x4 = buf[s, 9, i]
    y4 = buf[s, 10, i]
    z4 = buf[s, 11, i]
    ox, oy, oz = _f_vjp(x4, y4, z4, sixth * vx, sixth * vy, sixth * vz, par, wk, i)
    gx = vx + ox
    gy = vy + oy
    gz = vz + oz
    x3 = buf[s, 6, i]
    y3 = buf[s, 7, i]
    z3 = buf[s, 8, i]
    g3x = third * vx + ox
    g3y = third * vy + oy
    g3z = third * vz + oz
    ox, oy, oz = _f_vjp(x3, y3, z3, g3x, g3y, g3z, par, wk, i)
    gx += ox
    gy += oy
    gz += oz
    x2 = buf[s, 3, i]
    y2 = buf[s, 4, i]
    z2 = buf[s, 5, i]
    g2x = third * vx + half * ox
    g2y = third * vy + half * oy
    g2z = third * vz + half * oz
    ox, oy, oz = _f_vjp(x2, y2, z2, g2x, g2y, g2z, par, wk, i)
    gx += ox
    gy += oy
    gz += oz
    x1 = buf[s, 0, i]
    y1 = buf[s, 1, i]
    z1 = buf[s, 2, i]
    g1x = sixth * vx + half * ox
    g1y = sixth * vy + half * oy
    g1z = sixth * vz + half * oz
    ox, oy, oz = _f_vjp(x1, y1, z1, g1x, g1y, g1z, par, wk, i)
    wk[0, i] = gx + ox
    wk[1, i] = gy + oy
    wk[2, i] = gz + oz


@njit(**_INLINE)
def _heun_adjoint(buf, s, wk, par, i, vx, vy, vz):
    """Adjoint of one Heun step: ``v = x + (k1 + k2) / 2``, ``k2 = f(x + k1)``."""
    half = wk.dtype.type(0.5)
    x2 = buf[s, 3, i]
    y2 = buf[s, 4, i]
    z2 = buf[s, 5, i]
    ox, oy, oz = _f_vjp(x2, y2, z2, half * vx, half * vy, half * vz, par, wk, i)
    gx = vx + ox
    gy = vy + oy
    gz = vz + oz
    x1 = buf[s, 0, i]
    y1 = buf[s, 1, i]
    z1 = buf[s, 2, i]
    g1x = half * vx + ox
    g1y = half * vy + oy
    g1z = half * vz + oz
    ox, oy, oz = _f_vjp(x1, y1, z1, g1x, g1y, g1z, par, wk, i)
    wk[0, i] = gx + ox
    wk[1, i] = gy + oy
    wk[2, i] = gz + oz


@njit(**_INLINE)
def _euler_adjoint(buf, s, wk, par, i, vx, vy, vz):
    """Adjoint of one Euler step: ``v = x + f(x)``."""
    ox, oy, oz = _f_vjp(
        buf[s, 0, i], buf[s, 1, i], buf[s, 2, i], vx, vy, vz, par, wk, i
    )
    wk[0, i] = vx + ox
    wk[1, i] = vy + oy
    wk[2, i] = vz + oz


@njit(**_INLINE)
def _close_backward(
    wk, hdl, pack, first, lo, length, hh, want_pack, g_m_in, g_hdl, g_pack
):
    """Write the state and drive gradients; map coefficient gradients onto the pack.

    With ``G = dL/dA`` and ``g0 = dL/dH0`` accumulated over all stages: the
    antisymmetric part of ``G`` is the gradient through ``h_dl (m x sigma)``, the
    diagonal through ``-Ms N``, ``u^T G u`` through ``H_K``; ``c1 = -h gamma`` and
    ``c2 = c1 alpha`` give ``gamma`` and ``alpha``.
    """
    q_n = pack.shape[0]
    q = (first + lo) % q_n
    for i in range(length):
        g = lo + i
        g_m_in[g, 0] = wk[0, i]
        g_m_in[g, 1] = wk[1, i]
        g_m_in[g, 2] = wk[2, i]
        if i > 0:
            q = q + 1 if q + 1 < q_n else 0
        d = hdl[g]
        sx = pack[q, 10]
        sy = pack[q, 11]
        sz = pack[q, 12]
        beta = pack[q, 13]
        h0x = wk[_ACC + 0, i]
        h0y = wk[_ACC + 1, i]
        h0z = wk[_ACC + 2, i]
        wx = beta * h0x + wk[_ACC + 8, i] - wk[_ACC + 10, i]
        wy = beta * h0y + wk[_ACC + 9, i] - wk[_ACC + 5, i]
        wz = beta * h0z + wk[_ACC + 4, i] - wk[_ACC + 6, i]
        g_hdl[g] = sx * wx + sy * wy + sz * wz
        if want_pack:
            hk = pack[q, 3]
            ux = pack[q, 4]
            uy = pack[q, 5]
            uz = pack[q, 6]
            gux = wk[_ACC + 3, i] * ux + wk[_ACC + 4, i] * uy + wk[_ACC + 5, i] * uz
            guy = wk[_ACC + 6, i] * ux + wk[_ACC + 7, i] * uy + wk[_ACC + 8, i] * uz
            guz = wk[_ACC + 9, i] * ux + wk[_ACC + 10, i] * uy + wk[_ACC + 11, i] * uz
            gtx = wk[_ACC + 3, i] * ux + wk[_ACC + 6, i] * uy + wk[_ACC + 9, i] * uz
            gty = wk[_ACC + 4, i] * ux + wk[_ACC + 7, i] * uy + wk[_ACC + 10, i] * uz
            gtz = wk[_ACC + 5, i] * ux + wk[_ACC + 8, i] * uy + wk[_ACC + 11, i] * uz
            g_pack[g, 0] = h0x
            g_pack[g, 1] = h0y
            g_pack[g, 2] = h0z
            g_pack[g, 3] = ux * gux + uy * guy + uz * guz
            g_pack[g, 4] = hk * (gux + gtx)
            g_pack[g, 5] = hk * (guy + gty)
            g_pack[g, 6] = hk * (guz + gtz)
            g_pack[g, 7] = -wk[_ACC + 3, i]
            g_pack[g, 8] = -wk[_ACC + 7, i]
            g_pack[g, 9] = -wk[_ACC + 11, i]
            g_pack[g, 10] = d * wx
            g_pack[g, 11] = d * wy
            g_pack[g, 12] = d * wz
            g_pack[g, 13] = d * (sx * h0x + sy * h0y + sz * h0z)
            gc1 = wk[_ACC + 12, i]
            gc2 = wk[_ACC + 13, i]
            g_pack[g, 14] = -hh * (gc1 + pack[q, 15] * gc2)
            g_pack[g, 15] = -hh * pack[q, 14] * gc2


@njit(**_JIT)
def backward_rk4(
    m, hdl, pack, first, g_m, g_u, n_sub, h, quadratic, want_pack, g_m_in, g_hdl, g_pack
):
    """Gradients of :func:`forward_rk4` by recomputation and the discrete adjoint.

    Args (numpy arrays of one dtype): ``m`` ``(n, 3)`` the state at the start of the
    step, ``hdl``, ``pack``, ``first`` as in :func:`forward_rk4`; ``g_m`` ``(n, 3)``
    and ``g_u`` ``(n,)`` the incoming gradients of the final m and of ``u``. Writes
    ``g_m_in`` ``(n, 3)``, ``g_hdl`` ``(n,)`` and, when ``want_pack``, the per-neuron
    pack gradients ``g_pack`` ``(n, 16)``.
    """
    wk = np.empty((_ACC + 14, _BK), m.dtype)  # adjoint (3), u share, max, -, accs
    par = np.empty((_NPAR, _BK), m.dtype)
    buf = np.empty((n_sub + 1, _N_SLOT, _BK), m.dtype)
    reverse = np.arange(n_sub - 1, -1, -1)
    hh = m.dtype.type(h)
    for lo in range(0, m.shape[0], _BK):
        length = _open_backward(m, hdl, pack, first, lo, hh, wk, par, buf)
        for s in range(n_sub):
            for i in range(_BK):
                v = _rk4(buf[s, 0, i], buf[s, 1, i], buf[s, 2, i], par, i)
                buf[s, 3, i] = v[3]
                buf[s, 4, i] = v[4]
                buf[s, 5, i] = v[5]
                buf[s, 6, i] = v[6]
                buf[s, 7, i] = v[7]
                buf[s, 8, i] = v[8]
                buf[s, 9, i] = v[9]
                buf[s, 10, i] = v[10]
                buf[s, 11, i] = v[11]
                _record(buf, s, wk, par, i, v[0], v[1], v[2], quadratic)
        _open_reverse(wk, g_m, g_u, lo, length)
        for t in range(n_sub):
            s = reverse[t]
            for i in range(_BK):
                vx, vy, vz = _adjoint_head(buf, s, wk, par, i, quadratic)
                _rk4_adjoint(buf, s, wk, par, i, vx, vy, vz)
        _close_backward(
            wk, hdl, pack, first, lo, length, hh, want_pack, g_m_in, g_hdl, g_pack
        )


@njit(**_JIT)
def backward_heun(
    m, hdl, pack, first, g_m, g_u, n_sub, h, quadratic, want_pack, g_m_in, g_hdl, g_pack
):
    """As :func:`backward_rk4` for Heun substeps."""
    wk = np.empty((_ACC + 14, _BK), m.dtype)
    par = np.empty((_NPAR, _BK), m.dtype)
    buf = np.empty((n_sub + 1, _N_SLOT, _BK), m.dtype)
    reverse = np.arange(n_sub - 1, -1, -1)
    hh = m.dtype.type(h)
    for lo in range(0, m.shape[0], _BK):
        length = _open_backward(m, hdl, pack, first, lo, hh, wk, par, buf)
        for s in range(n_sub):
            for i in range(_BK):
                v = _heun(buf[s, 0, i], buf[s, 1, i], buf[s, 2, i], par, i)
                buf[s, 3, i] = v[3]
                buf[s, 4, i] = v[4]
                buf[s, 5, i] = v[5]
                _record(buf, s, wk, par, i, v[0], v[1], v[2], quadratic)
        _open_reverse(wk, g_m, g_u, lo, length)
        for t in range(n_sub):
            s = reverse[t]
            for i in range(_BK):
                vx, vy, vz = _adjoint_head(buf, s, wk, par, i, quadratic)
                _heun_adjoint(buf, s, wk, par, i, vx, vy, vz)
        _close_backward(
            wk, hdl, pack, first, lo, length, hh, want_pack, g_m_in, g_hdl, g_pack
        )


@njit(**_JIT)
def backward_euler(
    m, hdl, pack, first, g_m, g_u, n_sub, h, quadratic, want_pack, g_m_in, g_hdl, g_pack
):
    """As :func:`backward_rk4` for Euler substeps."""
    wk = np.empty((_ACC + 14, _BK), m.dtype)
    par = np.empty((_NPAR, _BK), m.dtype)
    buf = np.empty((n_sub + 1, _N_SLOT, _BK), m.dtype)
    reverse = np.arange(n_sub - 1, -1, -1)
    hh = m.dtype.type(h)
    for lo in range(0, m.shape[0], _BK):
        length = _open_backward(m, hdl, pack, first, lo, hh, wk, par, buf)
        for s in range(n_sub):
            for i in range(_BK):
                v = _euler(buf[s, 0, i], buf[s, 1, i], buf[s, 2, i], par, i)
                _record(buf, s, wk, par, i, v[0], v[1], v[2], quadratic)
        _open_reverse(wk, g_m, g_u, lo, length)
        for t in range(n_sub):
            s = reverse[t]
            for i in range(_BK):
                vx, vy, vz = _adjoint_head(buf, s, wk, par, i, quadratic)
                _euler_adjoint(buf, s, wk, par, i, vx, vy, vz)
        _close_backward(
            wk, hdl, pack, first, lo, length, hh, want_pack, g_m_in, g_hdl, g_pack
        )


#: Kernels by integrator name.
FORWARD = {"rk4": forward_rk4, "heun": forward_heun, "euler": forward_euler}
BACKWARD = {"rk4": backward_rk4, "heun": backward_heun, "euler": backward_euler}
