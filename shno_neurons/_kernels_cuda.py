"""CUDA kernels of the fused substep loop, written in Triton (private module).

Untested on a GPU: the machine this was written on has none. ``tests/test_fused.py``
runs these kernels through Triton's CPU interpreter (``TRITON_INTERPRET=1``) against
the numba kernels, which checks their arithmetic and indexing but not their
compilation for a GPU or their speed; a GPU test runs when CUDA is present.

They mirror :mod:`shno_neurons._kernels_cpu` (equation, pack layout and adjoint are
documented there) with one neuron per GPU thread: each program takes ``BLOCK``
neurons, keeps their state in registers through all substeps, and the backward keeps
its per-substep record in a global scratch tensor ``(n_sub + 1, 15, n)`` (coalesced
along the neurons). Scalars that must carry the tensor's precision (the substep, 1/6,
1/3) are read from a small tensor of that dtype, because a Python float reaches a
Triton kernel as float32.
"""

from __future__ import annotations

import torch
from torch import Tensor

try:
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover - Triton ships with CUDA builds of PyTorch
    triton = None

__all__ = ["AVAILABLE", "forward", "backward"]

#: Whether the Triton kernels can run (Triton importable).
AVAILABLE = triton is not None

_BLOCK = 128
_N_SLOT = 15
_METHOD = {"rk4": 0, "heun": 1, "euler": 2}


def _constants(like: Tensor, h: float) -> Tensor:
    return torch.tensor([h, 1.0 / 6.0, 1.0 / 3.0], dtype=like.dtype, device=like.device)


if AVAILABLE:
    #: Start of the running maximum of the readout (the eager path starts at -inf;
    #: the readout is at least -1, so the first substep replaces either alike).
    _LOWEST = tl.constexpr(-3.0e38)

    @triton.jit
    def _load_params(pack_ptr, q, d, hh):
        """H0 (3), A (9, row-major), c1, c2 of pack rows ``q`` and drive ``d``."""
        r = pack_ptr + q * 19
        hk = tl.load(r + 3)
        ux = tl.load(r + 4)
        uy = tl.load(r + 5)
        uz = tl.load(r + 6)
        sx = tl.load(r + 10)
        sy = tl.load(r + 11)
        sz = tl.load(r + 12)
        bd = tl.load(r + 13) * d
        h0x = tl.load(r + 0) + bd * sx
        h0y = tl.load(r + 1) + bd * sy
        h0z = tl.load(r + 2) + bd * sz
        a00 = hk * ux * ux - tl.load(r + 7)
        a01 = hk * ux * uy + d * sz
        a02 = hk * ux * uz - d * sy
        a10 = hk * uy * ux - d * sz
        a11 = hk * uy * uy - tl.load(r + 8)
        a12 = hk * uy * uz + d * sx
        a20 = hk * uz * ux + d * sy
        a21 = hk * uz * uy - d * sx
        a22 = hk * uz * uz - tl.load(r + 9)
        c1 = -(hh * tl.load(r + 14))
        c2 = c1 * tl.load(r + 15)
        return h0x, h0y, h0z, a00, a01, a02, a10, a11, a12, a20, a21, a22, c1, c2

    @triton.jit
    def _f(x, y, z, P):
        hx = P[0] + P[3] * x + P[4] * y + P[5] * z
        hy = P[1] + P[6] * x + P[7] * y + P[8] * z
        hz = P[2] + P[9] * x + P[10] * y + P[11] * z
        px = y * hz - z * hy
        py = z * hx - x * hz
        pz = x * hy - y * hx
        qx = y * pz - z * py
        qy = z * px - x * pz
        qz = x * py - y * px
        return (
            P[12] * px + P[13] * qx,
            P[12] * py + P[13] * qy,
            P[12] * pz + P[13] * qz,
        )

    @triton.jit
    def _f_vjp(x, y, z, gx, gy, gz, P, G):
        """As ``_kernels_cpu._f_vjp``; ``G`` is the tuple of 14 accumulators."""
        hx = P[0] + P[3] * x + P[4] * y + P[5] * z
        hy = P[1] + P[6] * x + P[7] * y + P[8] * z
        hz = P[2] + P[9] * x + P[10] * y + P[11] * z
        c1 = P[12]
        c2 = P[13]
        s = x * gx + y * gy + z * gz
        t = x * hx + y * hy + z * hz
        nn = x * x + y * y + z * z
        hg = hx * gx + hy * gy + hz * gz
        bx = hy * gz - hz * gy
        by = hz * gx - hx * gz
        bz = hx * gy - hy * gx
        yx = c1 * (gy * z - gz * y) + c2 * s * x - c2 * nn * gx
        yy = c1 * (gz * x - gx * z) + c2 * s * y - c2 * nn * gy
        yz = c1 * (gx * y - gy * x) + c2 * s * z - c2 * nn * gz
        c2h = 2.0 * c2 * hg
        ox = (
            P[3] * yx + P[6] * yy + P[9] * yz + c1 * bx + c2 * s * hx
            + c2 * t * gx - c2h * x
        )  # fmt: skip
        oy = (
            P[4] * yx + P[7] * yy + P[10] * yz + c1 * by + c2 * s * hy
            + c2 * t * gy - c2h * y
        )  # fmt: skip
        oz = (
            P[5] * yx + P[8] * yy + P[11] * yz + c1 * bz + c2 * s * hz
            + c2 * t * gz - c2h * z
        )  # fmt: skip
        G = (
            G[0] + yx, G[1] + yy, G[2] + yz,
            G[3] + yx * x, G[4] + yx * y, G[5] + yx * z,
            G[6] + yy * x, G[7] + yy * y, G[8] + yy * z,
            G[9] + yz * x, G[10] + yz * y, G[11] + yz * z,
            G[12] + x * bx + y * by + z * bz, G[13] + s * t - hg * nn,
        )  # fmt: skip
        return ox, oy, oz, G

    @triton.jit
    def _step(x, y, z, P, sixth, METHOD: tl.constexpr):
        """One substep, unnormalised result and stage inputs (unused ones zero)."""
        k1x, k1y, k1z = _f(x, y, z, P)
        if METHOD == 0:
            x2 = x + 0.5 * k1x
            y2 = y + 0.5 * k1y
            z2 = z + 0.5 * k1z
            k2x, k2y, k2z = _f(x2, y2, z2, P)
            x3 = x + 0.5 * k2x
            y3 = y + 0.5 * k2y
            z3 = z + 0.5 * k2z
            k3x, k3y, k3z = _f(x3, y3, z3, P)
            x4 = x + k3x
            y4 = y + k3y
            z4 = z + k3z
            k4x, k4y, k4z = _f(x4, y4, z4, P)
            vx = x + sixth * (k1x + 2.0 * k2x + 2.0 * k3x + k4x)
            vy = y + sixth * (k1y + 2.0 * k2y + 2.0 * k3y + k4y)
            vz = z + sixth * (k1z + 2.0 * k2z + 2.0 * k3z + k4z)
        elif METHOD == 1:
            x2 = x + k1x
            y2 = y + k1y
            z2 = z + k1z
            k2x, k2y, k2z = _f(x2, y2, z2, P)
            vx = x + 0.5 * (k1x + k2x)
            vy = y + 0.5 * (k1y + k2y)
            vz = z + 0.5 * (k1z + k2z)
            x3 = x * 0.0
            y3 = x3
            z3 = x3
            x4 = x3
            y4 = x3
            z4 = x3
        else:
            vx = x + k1x
            vy = y + k1y
            vz = z + k1z
            x2 = x * 0.0
            y2 = x2
            z2 = x2
            x3 = x2
            y3 = x2
            z3 = x2
            x4 = x2
            y4 = x2
            z4 = x2
        return vx, vy, vz, x2, y2, z2, x3, y3, z3, x4, y4, z4

    @triton.jit
    def _forward_kernel(
        m_ptr, armed_ptr, hdl_ptr, pack_ptr, levels_ptr, const_ptr,
        m_out_ptr, armed_out_ptr, fired_ptr, u_ptr,
        n, q_n, t_n, n_sub,
        METHOD: tl.constexpr, QUADRATIC: tl.constexpr, BLOCK: tl.constexpr,
    ):  # fmt: skip
        idx = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        mask = idx < n
        idx = tl.where(mask, idx, n - 1)  # padded lanes repeat the last neuron
        hh = tl.load(const_ptr)
        sixth = tl.load(const_ptr + 1)
        x = tl.load(m_ptr + 3 * idx)
        y = tl.load(m_ptr + 3 * idx + 1)
        z = tl.load(m_ptr + 3 * idx + 2)
        armed = tl.load(armed_ptr + idx)
        P = _load_params(pack_ptr, idx % q_n, tl.load(hdl_ptr + idx), hh)
        q = (idx % q_n) * 19
        ax = tl.load(pack_ptr + q + 16)
        ay = tl.load(pack_ptr + q + 17)
        az = tl.load(pack_ptr + q + 18)
        thr = tl.load(levels_ptr + 2 * (idx % t_n))
        rearm = tl.load(levels_ptr + 2 * (idx % t_n) + 1)
        fired = armed * 0.0
        u = fired + _LOWEST
        for _ in range(n_sub):
            v = _step(x, y, z, P, sixth, METHOD)
            nrm = tl.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])
            x = v[0] / nrm
            y = v[1] / nrm
            z = v[2] / nrm
            r = x * ax + y * ay + z * az
            if QUADRATIC:
                r = r * r
            hit = tl.where(r >= thr, armed, 0.0)
            fired = tl.where(hit > fired, hit, fired)
            left = armed - hit
            back = tl.where(r < rearm, 1.0, 0.0)
            armed = tl.where(back > left, back, left)
            u = tl.where(r <= u, u, r)
        tl.store(m_out_ptr + 3 * idx, x, mask=mask)
        tl.store(m_out_ptr + 3 * idx + 1, y, mask=mask)
        tl.store(m_out_ptr + 3 * idx + 2, z, mask=mask)
        tl.store(armed_out_ptr + idx, armed, mask=mask)
        tl.store(fired_ptr + idx, fired, mask=mask)
        tl.store(u_ptr + idx, u, mask=mask)


def forward(
    m: Tensor,
    armed: Tensor,
    hdl: Tensor,
    pack: Tensor,
    levels: Tensor,
    n_sub: int,
    h: float,
    method: str,
    quadratic: bool,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The fused forward on CUDA tensors; contract of ``shno_neurons::substeps``."""
    n = m.shape[0]
    m_out = torch.empty_like(m)
    armed_out = torch.empty_like(armed)
    fired = torch.empty_like(armed)
    u = torch.empty_like(armed)
    if n:
        _forward_kernel[(triton.cdiv(n, _BLOCK),)](
            m, armed, hdl, pack, levels, _constants(m, h),
            m_out, armed_out, fired, u,
            n, pack.shape[0], levels.shape[0], n_sub,
            METHOD=_METHOD[method], QUADRATIC=quadratic, BLOCK=_BLOCK,
        )  # fmt: skip
    return m_out, armed_out, fired, u


if AVAILABLE:

    @triton.jit
    def _backward_kernel(
        m_ptr, hdl_ptr, pack_ptr, const_ptr, gm_ptr, gu_ptr, buf_ptr,
        gm_in_ptr, ghdl_ptr, gpack_ptr,
        n, q_n, n_sub,
        METHOD: tl.constexpr, QUADRATIC: tl.constexpr, WANT_PACK: tl.constexpr,
        BLOCK: tl.constexpr,
    ):  # fmt: skip
        idx = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        mask = idx < n
        idx = tl.where(mask, idx, n - 1)
        hh = tl.load(const_ptr)
        sixth = tl.load(const_ptr + 1)
        third = tl.load(const_ptr + 2)
        d = tl.load(hdl_ptr + idx)
        P = _load_params(pack_ptr, idx % q_n, d, hh)
        q = (idx % q_n) * 19
        ax = tl.load(pack_ptr + q + 16)
        ay = tl.load(pack_ptr + q + 17)
        az = tl.load(pack_ptr + q + 18)
        x = tl.load(m_ptr + 3 * idx)
        y = tl.load(m_ptr + 3 * idx + 1)
        z = tl.load(m_ptr + 3 * idx + 2)
        # Record row k of substep s for neuron i at buf[(s * 15 + k) * n + i]; only
        # the lanes of real neurons write (padded lanes repeat neuron n - 1).
        tl.store(buf_ptr + idx, x, mask=mask)
        tl.store(buf_ptr + n + idx, y, mask=mask)
        tl.store(buf_ptr + 2 * n + idx, z, mask=mask)
        u = x * 0.0 + _LOWEST

        # ---- Recompute the substeps, keeping what the adjoint needs.
        for s in range(n_sub):
            row = buf_ptr + s * 15 * n + idx
            v = _step(x, y, z, P, sixth, METHOD)
            for k in tl.static_range(9):
                tl.store(row + (3 + k) * n, v[3 + k], mask=mask)
            nrm = tl.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])
            x = v[0] / nrm
            y = v[1] / nrm
            z = v[2] / nrm
            nxt = buf_ptr + (s + 1) * 15 * n + idx
            tl.store(nxt, x, mask=mask)
            tl.store(nxt + n, y, mask=mask)
            tl.store(nxt + 2 * n, z, mask=mask)
            ra = x * ax + y * ay + z * az
            r = ra
            if QUADRATIC:
                r = ra * ra
            tl.store(row + 12 * n, nrm, mask=mask)
            tl.store(row + 13 * n, ra, mask=mask)
            tl.store(row + 14 * n, u, mask=mask)
            u = tl.where(r <= u, u, r)

        # ---- Reverse sweep.
        lx = tl.load(gm_ptr + 3 * idx)
        ly = tl.load(gm_ptr + 3 * idx + 1)
        lz = tl.load(gm_ptr + 3 * idx + 2)
        w = tl.load(gu_ptr + idx)
        zero = lx * 0.0
        G = (
            zero, zero, zero, zero, zero, zero, zero,
            zero, zero, zero, zero, zero, zero, zero,
        )  # fmt: skip
        for t in range(n_sub):
            s = n_sub - 1 - t
            row = buf_ptr + s * 15 * n + idx
            nxt = buf_ptr + (s + 1) * 15 * n + idx
            ra = tl.load(row + 13 * n)
            r = ra
            if QUADRATIC:
                r = ra * ra
            prev = tl.load(row + 14 * n)
            gr = tl.where(r > prev, w, tl.where(r == prev, 0.5 * w, 0.0))
            w = w - gr
            if QUADRATIC:
                gr = 2.0 * ra * gr
            lx = lx + gr * ax
            ly = ly + gr * ay
            lz = lz + gr * az
            mx = tl.load(nxt)
            my = tl.load(nxt + n)
            mz = tl.load(nxt + 2 * n)
            nrm = tl.load(row + 12 * n)
            dot = mx * lx + my * ly + mz * lz
            vx = (lx - mx * dot) / nrm
            vy = (ly - my * dot) / nrm
            vz = (lz - mz * dot) / nrm
            x1 = tl.load(row)
            y1 = tl.load(row + n)
            z1 = tl.load(row + 2 * n)
            if METHOD == 0:
                ox, oy, oz, G = _f_vjp(
                    tl.load(row + 9 * n), tl.load(row + 10 * n), tl.load(row + 11 * n),
                    sixth * vx, sixth * vy, sixth * vz, P, G,
                )  # fmt: skip
                gx = vx + ox
                gy = vy + oy
                gz = vz + oz
                ox, oy, oz, G = _f_vjp(
                    tl.load(row + 6 * n), tl.load(row + 7 * n), tl.load(row + 8 * n),
                    third * vx + ox, third * vy + oy, third * vz + oz, P, G,
                )  # fmt: skip
                gx = gx + ox
                gy = gy + oy
                gz = gz + oz
                ox, oy, oz, G = _f_vjp(
                    tl.load(row + 3 * n), tl.load(row + 4 * n), tl.load(row + 5 * n),
                    third * vx + 0.5 * ox, third * vy + 0.5 * oy,
                    third * vz + 0.5 * oz, P, G,
                )  # fmt: skip
                gx = gx + ox
                gy = gy + oy
                gz = gz + oz
                ox, oy, oz, G = _f_vjp(
                    x1, y1, z1, sixth * vx + 0.5 * ox, sixth * vy + 0.5 * oy,
                    sixth * vz + 0.5 * oz, P, G,
                )  # fmt: skip
            elif METHOD == 1:
                ox, oy, oz, G = _f_vjp(
                    tl.load(row + 3 * n), tl.load(row + 4 * n), tl.load(row + 5 * n),
                    0.5 * vx, 0.5 * vy, 0.5 * vz, P, G,
                )  # fmt: skip
                gx = vx + ox
                gy = vy + oy
                gz = vz + oz
                ox, oy, oz, G = _f_vjp(
                    x1, y1, z1, 0.5 * vx + ox, 0.5 * vy + oy, 0.5 * vz + oz, P, G
                )
            else:
                gx = vx
                gy = vy
                gz = vz
                ox, oy, oz, G = _f_vjp(x1, y1, z1, vx, vy, vz, P, G)
            lx = gx + ox
            ly = gy + oy
            lz = gz + oz

        # ---- Write out; map the coefficient gradients onto the pack columns.
        tl.store(gm_in_ptr + 3 * idx, lx, mask=mask)
        tl.store(gm_in_ptr + 3 * idx + 1, ly, mask=mask)
        tl.store(gm_in_ptr + 3 * idx + 2, lz, mask=mask)
        sx = tl.load(pack_ptr + q + 10)
        sy = tl.load(pack_ptr + q + 11)
        sz = tl.load(pack_ptr + q + 12)
        beta = tl.load(pack_ptr + q + 13)
        wx = beta * G[0] + G[8] - G[10]
        wy = beta * G[1] + G[9] - G[5]
        wz = beta * G[2] + G[4] - G[6]
        tl.store(ghdl_ptr + idx, sx * wx + sy * wy + sz * wz, mask=mask)
        if WANT_PACK:
            hk = tl.load(pack_ptr + q + 3)
            ux = tl.load(pack_ptr + q + 4)
            uy = tl.load(pack_ptr + q + 5)
            uz = tl.load(pack_ptr + q + 6)
            gux = G[3] * ux + G[4] * uy + G[5] * uz
            guy = G[6] * ux + G[7] * uy + G[8] * uz
            guz = G[9] * ux + G[10] * uy + G[11] * uz
            gtx = G[3] * ux + G[6] * uy + G[9] * uz
            gty = G[4] * ux + G[7] * uy + G[10] * uz
            gtz = G[5] * ux + G[8] * uy + G[11] * uz
            out = gpack_ptr + 16 * idx
            tl.store(out + 0, G[0], mask=mask)
            tl.store(out + 1, G[1], mask=mask)
            tl.store(out + 2, G[2], mask=mask)
            tl.store(out + 3, ux * gux + uy * guy + uz * guz, mask=mask)
            tl.store(out + 4, hk * (gux + gtx), mask=mask)
            tl.store(out + 5, hk * (guy + gty), mask=mask)
            tl.store(out + 6, hk * (guz + gtz), mask=mask)
            tl.store(out + 7, -G[3], mask=mask)
            tl.store(out + 8, -G[7], mask=mask)
            tl.store(out + 9, -G[11], mask=mask)
            tl.store(out + 10, d * wx, mask=mask)
            tl.store(out + 11, d * wy, mask=mask)
            tl.store(out + 12, d * wz, mask=mask)
            tl.store(out + 13, d * (sx * G[0] + sy * G[1] + sz * G[2]), mask=mask)
            gam = tl.load(pack_ptr + q + 14)
            alp = tl.load(pack_ptr + q + 15)
            tl.store(out + 14, -hh * (G[12] + alp * G[13]), mask=mask)
            tl.store(out + 15, -hh * gam * G[13], mask=mask)


def backward(
    g_m: Tensor,
    g_u: Tensor,
    m: Tensor,
    hdl: Tensor,
    pack: Tensor,
    n_sub: int,
    h: float,
    method: str,
    quadratic: bool,
    want_pack: bool,
) -> tuple[Tensor, Tensor, Tensor]:
    """The fused backward on CUDA tensors; contract of ``substeps_backward``.

    The per-substep record takes ``(n_sub + 1) * 15`` numbers per neuron of
    temporary GPU memory (60 MB for 10,000 neurons and 100 substeps in float32).
    """
    n = m.shape[0]
    g_m_in = torch.empty_like(m)
    g_hdl = torch.empty_like(hdl)
    g_pack = m.new_empty((n if want_pack else 0, 16))
    if n:
        buf = m.new_empty(((n_sub + 1) * _N_SLOT * n,))
        _backward_kernel[(triton.cdiv(n, _BLOCK),)](
            m, hdl, pack, _constants(m, h), g_m, g_u, buf,
            g_m_in, g_hdl, g_pack if want_pack else g_hdl,
            n, pack.shape[0], n_sub,
            METHOD=_METHOD[method], QUADRATIC=quadratic, WANT_PACK=want_pack,
            BLOCK=_BLOCK,
        )  # fmt: skip
    return g_m_in, g_hdl, g_pack
