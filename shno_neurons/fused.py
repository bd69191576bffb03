"""Fused substep kernels for :func:`shno_neurons.functional.shno_step`.

``NeuronParameters(backend="fused")`` routes the substep loop of a network step here.
:func:`substeps` returns what :func:`shno_neurons.functional._substeps_eager` returns,
``(m, armed, fired, u)``, computed by one kernel call per network step instead of some
forty PyTorch operations per substep:

* **Forward**: every substep (RK4, Heun or Euler, each followed by renormalisation) and
  the crossing detection run inside one compiled loop per block of neurons, with the
  state in cache-resident scratch. Only the state at the step boundary (``m``), the
  drive ``a_DL j`` and the small parameter pack are saved for the backward pass, so a
  step costs 4 numbers per neuron of autograd memory whatever the number of substeps
  (the eager path keeps some 60 per substep).
* **Backward**: the substeps are recomputed from the saved state and their exact
  discrete adjoint is applied in reverse: the vector-Jacobian product of each
  integrator stage, of the renormalisation and of the running maximum ``u`` of the
  readout (PyTorch's tie rule included). Gradients reach the incoming state ``m``, the
  current density ``j`` and every device coefficient (learnable ``alpha``, ``Ms``,
  ``theta_SH``, fields, axes...). The threshold enters only through the surrogate
  outside the kernel, so it needs nothing here.

The two kernels are registered as PyTorch custom operators
(``torch.ops.shno_neurons.substeps`` and ``substeps_backward``) with
:func:`torch.library.register_autograd` and fake (meta) implementations, so
``torch.compile(fullgraph=True)`` traces a model on the fused backend without graph
breaks. Higher-order gradients (gradient of the gradient) are not implemented.

Devices. On the CPU the kernels are numba functions (:mod:`shno_neurons._kernels_cpu`),
one per integrator, vectorized over blocks of neurons; ``torch.get_num_threads()``
slices of the layer run in parallel on a small thread pool (the kernels release the
GIL). They are compiled on first use and cached on disk (``__pycache__``): on the
2-core machine of ``benchmarks/README.md`` the RK4 forward took 2 to 4 s and its
backward 6 s per dtype, a cached load about 1 s. Measured there, one thread, float32:
3.0 ns per neuron-substep forward and 12.7 ns forward + backward in the kernels,
against about 340 and 810 ns for the eager path. On CUDA the kernels are Triton programs
(:mod:`shno_neurons._kernels_cuda`), tested here only through Triton's CPU
interpreter, not on a GPU.

When the fused path steps aside. :func:`substeps` calls the eager reference, which
gives the same results more slowly, in these cases:

* thermal noise (``temperature > 0``): the eager path draws the Brown field from the
  caller's ``torch.Generator`` substep by substep, and the kernel has no random source
  that reproduces that stream. The fallback can go when the kernel takes a counter-based
  generator (Philox) with its own reproducibility contract;
* a readout axis that requires grad (its gradient is not implemented; a learnable
  readout axis has no physical meaning, the mark can go if one is wanted);
* a dtype other than float32 and float64, or a device other than the CPU and CUDA
  (or CUDA without Triton).
"""

from __future__ import annotations

import concurrent.futures
import itertools
import logging
import math
import os
from collections.abc import Callable
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from . import llgs

__all__ = ["substeps", "fused_available"]

_log = logging.getLogger(__name__)

_N_PACK = 19
_N_PACK_GRAD = 16


def fused_available(m: Tensor) -> bool:
    """Whether the fused kernels run for a state like ``m`` (its dtype and device)."""
    if m.dtype not in (torch.float32, torch.float64):
        return False
    if m.device.type == "cpu":
        return True
    if m.device.type == "cuda":
        from . import _kernels_cuda

        return _kernels_cuda.AVAILABLE
    return False


def substeps(
    m: Tensor,
    armed: Tensor,
    j: Tensor,
    c: llgs.Coefficients,
    n_sub: int,
    h: float,
    method: Literal["rk4", "heun", "euler"],
    axis: Tensor,
    quadratic: bool,
    threshold: Tensor,
    rearm: Tensor,
    noisy: bool,
    generator: torch.Generator | None,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The substep loop of one network step, fused; same contract as the eager one.

    Args:
        m: magnetization at the start of the step, shape ``S + (3,)``.
        armed: 1 where the neuron may fire, shape ``S``.
        j: current density, A/m^2, shape ``S``.
        c: coefficients from :func:`shno_neurons.llgs.coefficients`; per-neuron
            values broadcast against ``S``.
        n_sub: number of substeps.
        h: substep length, s.
        method: ``"rk4"``, ``"heun"`` or ``"euler"``.
        axis: readout axis, shape ``(3,)`` or broadcastable to ``S + (3,)``.
        quadratic: read ``(m . axis)^2`` instead of ``m . axis``.
        threshold: firing level, broadcastable to ``S`` (only its value is used).
        rearm: re-arm level, broadcastable to ``S``.
        noisy: thermal noise on (then the eager path runs, see the module notes).
        generator: random source of the thermal field (eager fallback only).

    Returns:
        ``(m, armed, fired, u)``: final magnetization ``S + (3,)``, armed flags,
        fired flags (no gradient) and the largest readout over the substeps ``S``.
    """
    if noisy or axis.requires_grad or not fused_available(m):
        # See the module docstring for why each of these takes the eager path.
        from .functional import _substeps_eager

        _log.debug("fused.substeps: eager fallback (noise, axis grad, dtype/device)")
        return _substeps_eager(
            m,
            armed,
            j,
            c,
            n_sub,
            h,
            method,
            axis,
            quadratic,
            threshold,
            rearm,
            noisy,
            generator,
        )

    # Drive field per neuron, then one common shape for everything per-neuron.
    hdl = c.a_dl * j.unsqueeze(-1)
    coeffs = (
        c.h_ext,
        c.h_k,
        c.easy_axis,
        c.ms_n,
        c.sigma,
        c.beta_fl,
        c.gamma,
        c.alpha,
        axis,
    )
    shape = _broadcast_shapes(
        j.shape,
        m.shape[:-1],
        armed.shape,
        hdl.shape[:-1],
        threshold.shape,
        rearm.shape,
        *(t.shape[:-1] for t in coeffs),
    )
    n = math.prod(shape)
    flat_m = m.expand(*shape, 3).reshape(n, 3).contiguous()
    flat_armed = armed.detach().expand(shape).reshape(n).contiguous()
    # The kernels take one dtype: the state's (a float64 current meeting a float32
    # state would otherwise compile a mixed-type kernel).
    flat_hdl = hdl.to(m.dtype).expand(*shape, 1).reshape(n).contiguous()
    pack = _pack(tuple(t.to(m.dtype) for t in coeffs), shape)
    levels = _pack((threshold.detach()[..., None], rearm.detach()[..., None]), shape)
    levels = levels.to(m.dtype)

    m_out, armed_out, fired, u = torch.ops.shno_neurons.substeps(
        flat_m,
        flat_armed,
        flat_hdl,
        pack,
        levels,
        int(n_sub),
        float(h),
        method,
        bool(quadratic),
    )
    return (
        m_out.view(*shape, 3),
        armed_out.view(shape),
        fired.view(shape),
        u.view(shape),
    )


def _broadcast_shapes(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    """NumPy's broadcasting rule (``torch.broadcast_shapes`` costs 90 us a call)."""
    out: list[int] = []
    for shape in shapes:
        shape = tuple(shape)
        if len(shape) > len(out):
            out = [1] * (len(shape) - len(out)) + out
        for k, size in enumerate(shape, start=len(out) - len(shape)):
            if size != 1 and out[k] != size:
                if out[k] != 1:
                    raise ValueError(
                        f"fused.substeps: shapes {[tuple(s) for s in shapes]} do not "
                        "broadcast; per-neuron parameters must broadcast against the "
                        "input current."
                    )
                out[k] = size
    return tuple(out)


def _pack(tensors: tuple[Tensor, ...], shape: tuple[int, ...]) -> Tensor:
    """Stack per-neuron quantities ``(..., k_i)`` into kernel rows ``(Q, sum k_i)``.

    ``Q`` is 1 when every quantity is shared by all neurons, the last dimension of
    ``shape`` when some vary along the neuron dimension only (the same for every sample
    of the batch), and ``prod(shape)`` otherwise; the kernel reads row ``i % Q`` for
    neuron ``i``, so shared rows are never copied per sample.
    """
    batch = _broadcast_shapes(*(t.shape[:-1] for t in tensors))
    trimmed = list(batch)
    while trimmed and trimmed[0] == 1:
        trimmed.pop(0)
    if not trimmed:
        rows = [t.reshape(1, t.shape[-1]) for t in tensors]
    elif len(shape) > 0 and tuple(trimmed) == (shape[-1],):
        rows = [t.reshape(-1, t.shape[-1]).expand(shape[-1], -1) for t in tensors]
    else:
        rows = [t.expand(*shape, t.shape[-1]).reshape(-1, t.shape[-1]) for t in tensors]
    return torch.cat(rows, dim=-1).contiguous()


# ----------------------------------------------------------------------------------
# Custom operators: the forward kernel, the backward kernel, and their autograd link.


#: Fewest neurons worth a thread of their own.
_MIN_CHUNK = 256


_POOLS: dict[int, concurrent.futures.ThreadPoolExecutor] = {}


def _pool() -> concurrent.futures.ThreadPoolExecutor:
    """The thread pool of the CPU kernels, created on first use (no model state).

    Keyed by process id: a forked child (a DataLoader worker, say) inherits the
    parent's pool object but not its threads, so it gets a pool of its own.
    """
    pid = os.getpid()
    if pid not in _POOLS:
        _POOLS.clear()
        _POOLS[pid] = concurrent.futures.ThreadPoolExecutor(
            max_workers=os.cpu_count() or 1, thread_name_prefix="shno-fused"
        )
    return _POOLS[pid]


def _parallel(n: int, call: Callable[[int, int], None]) -> None:
    """Run ``call(lo, hi)`` over slices of ``range(n)``, one per thread.

    As many slices as ``torch.get_num_threads()`` (at most one per ``_MIN_CHUNK``
    neurons). The numba kernels release the GIL, so the slices run in parallel on
    :func:`_pool`; one thread calls directly.
    """
    k = min(max(1, torch.get_num_threads()), max(1, n // _MIN_CHUNK))
    if k == 1:
        call(0, n)
        return
    bounds = [n * c // k for c in range(k + 1)]
    futures = [_pool().submit(call, lo, hi) for lo, hi in itertools.pairwise(bounds)]
    for future in futures:
        future.result()


@torch.library.custom_op("shno_neurons::substeps", mutates_args=(), device_types="cpu")
def _substeps_op(
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
    from ._kernels_cpu import FORWARD

    kernel = FORWARD[method]
    if not kernel.signatures:
        # The first call in a fresh install compiles (numba, ~10 s); say so, so a
        # first epoch that seems stuck at 0 % is explained.
        _log.info(
            "fused: loading the %s CPU kernels (the first use after install compiles "
            "them with numba, about 10 s per dtype; cached afterwards)",
            method,
        )
    m_out = torch.empty_like(m)
    armed_out = torch.empty_like(armed)
    fired = torch.empty_like(armed)
    u = torch.empty_like(armed)
    arrays = [t.numpy() for t in (m, armed, hdl, m_out, armed_out, fired, u)]
    pk, lv = pack.numpy(), levels.numpy()

    def call(lo: int, hi: int) -> None:
        a = [x[lo:hi] for x in arrays]
        kernel(a[0], a[1], a[2], pk, lv, lo, n_sub, h, quadratic, *a[3:])

    _parallel(m.shape[0], call)
    return m_out, armed_out, fired, u


@_substeps_op.register_fake
def _(m, armed, hdl, pack, levels, n_sub, h, method, quadratic):
    return (
        torch.empty_like(m),
        torch.empty_like(armed),
        torch.empty_like(armed),
        torch.empty_like(armed),
    )


@torch.library.custom_op(
    "shno_neurons::substeps_backward", mutates_args=(), device_types="cpu"
)
def _substeps_backward_op(
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
    from ._kernels_cpu import BACKWARD

    kernel = BACKWARD[method]
    g_m_in = torch.empty_like(m)
    g_hdl = torch.empty_like(hdl)
    g_pack = m.new_empty((m.shape[0] if want_pack else 0, _N_PACK_GRAD))
    # Without want_pack the kernel never writes g_pack; any array of the right
    # dtype and rank will do.
    g_pack_np = g_pack.numpy() if want_pack else np.empty((1, 1), g_m_in.numpy().dtype)
    arrays = [t.numpy() for t in (m, g_m, g_u, g_m_in, g_hdl)]
    hdl_np, pk = hdl.numpy(), pack.numpy()

    def call(lo: int, hi: int) -> None:
        a = [x[lo:hi] for x in arrays]
        kernel(
            a[0],
            hdl_np[lo:hi],
            pk,
            lo,
            a[1],
            a[2],
            n_sub,
            h,
            quadratic,
            want_pack,
            a[3],
            a[4],
            g_pack_np[lo:hi] if want_pack else g_pack_np,
        )

    _parallel(m.shape[0], call)
    return g_m_in, g_hdl, g_pack


@_substeps_backward_op.register_fake
def _(g_m, g_u, m, hdl, pack, n_sub, h, method, quadratic, want_pack):
    return (
        torch.empty_like(m),
        torch.empty_like(hdl),
        m.new_empty((m.shape[0] if want_pack else 0, _N_PACK_GRAD)),
    )


@_substeps_op.register_kernel("cuda")
def _(m, armed, hdl, pack, levels, n_sub, h, method, quadratic):
    from . import _kernels_cuda

    return _kernels_cuda.forward(
        m, armed, hdl, pack, levels, n_sub, h, method, quadratic
    )


@_substeps_backward_op.register_kernel("cuda")
def _(g_m, g_u, m, hdl, pack, n_sub, h, method, quadratic, want_pack):
    from . import _kernels_cuda

    return _kernels_cuda.backward(
        g_m, g_u, m, hdl, pack, n_sub, h, method, quadratic, want_pack
    )


def _setup_context(ctx, inputs, output) -> None:
    m, _armed, hdl, pack, _levels, n_sub, h, method, quadratic = inputs
    _m_out, armed_out, fired, _u = output
    ctx.mark_non_differentiable(armed_out, fired)
    ctx.save_for_backward(m, hdl, pack)
    ctx.config = (n_sub, h, method, quadratic)


def _backward(ctx, g_m_out, _g_armed, _g_fired, g_u):
    m, hdl, pack = ctx.saved_tensors
    g_m_out = torch.zeros_like(m) if g_m_out is None else g_m_out.contiguous()
    g_u = torch.zeros_like(hdl) if g_u is None else g_u.contiguous()
    want_pack = bool(ctx.needs_input_grad[3])
    g_m, g_hdl, g_rows = torch.ops.shno_neurons.substeps_backward(
        g_m_out, g_u, m, hdl, pack, *ctx.config, want_pack
    )
    g_pack = None
    if want_pack:
        q = pack.shape[0]
        g_rows = g_rows.view(-1, q, _N_PACK_GRAD).sum(0)
        g_pack = torch.cat([g_rows, g_rows.new_zeros(q, _N_PACK - _N_PACK_GRAD)], -1)
    return g_m, None, g_hdl, g_pack, None, None, None, None, None


torch.library.register_autograd(
    "shno_neurons::substeps", _backward, setup_context=_setup_context
)
