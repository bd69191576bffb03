"""Cost of one neuron-substep: eager vs fused vs the compute bound.

Times the substep loop of one network step (``functional._substeps_eager`` and
``fused.substeps``, RK4 at 1 ps, Set A driven at 3 j_c) on a layer of N neurons,
forward (with autograd recording, as in training) and forward + backward (loss on the
final m and the readout maximum u), and divides by N x substeps.

The compute bound: the fused RK4 substep executes about ``OPS_FORWARD`` vector
floating-point operations per neuron (counted from ``_kernels_cpu``, a fused
multiply-add counting as one), the backward ``OPS_BACKWARD`` more (recomputation plus
adjoint). The core's peak rate of such operations is measured here by a vectorized
multiply-add loop in L1 (four independent chains, 32 operations per load) compiled by
the same numba/LLVM; the bound is operations / peak rate. It assumes the kernel could
keep the floating-point units as busy as that loop, i.e. it ignores loads, stores,
division and square root, so it is a lower bound on time.

Usage::

    python benchmarks/bench_substep.py            # float32, both N, 1 and 2 threads
    python benchmarks/bench_substep.py --dtype float64 --quick
"""

from __future__ import annotations

import argparse
import concurrent.futures
import time

import numpy as np
import torch
from _common import machine, markdown_table, print_machine, timeit, write
from numba import njit

from shno_neurons import fused, llgs, presets
from shno_neurons.functional import _substeps_eager, initial_state

#: Vector floating-point operations per neuron and RK4 substep in the forward kernel:
#: 4 right-hand sides of 27 (field 9, two cross products 12, combination 6), stage
#: inputs and the weighted sum 21, renormalisation 6 (plus one square root and one
#: division), readout 3 and the crossing logic about 11 compares and selects.
OPS_FORWARD = 4 * 27 + 21 + 6 + 3 + 11
#: The backward: the forward again (recomputation, without the crossing logic) plus
#: the reverse sweep: 4 stage adjoints of 86 (field 9, dot products 12, cross product
#: 6, field gradient 17, point gradient 24, coefficient accumulators 18), stage
#: cotangents 30 and the readout/renormalisation adjoint 18.
OPS_BACKWARD = (OPS_FORWARD - 11) + 4 * 86 + 30 + 18

_CHAIN = 64  # neurons per block in the peak loop, as in the kernels


@njit(fastmath={"contract"}, error_model="numpy", nogil=True, cache=True)
def _fma_peak(st, a, b, reps):
    """``reps`` x 64 x 32 multiply-adds on four independent chains per lane."""
    for _ in range(reps):
        for i in range(_CHAIN):
            x0 = st[0, i]
            x1 = st[1, i]
            x2 = st[2, i]
            x3 = st[3, i]
            x0 = x0 * a + b
            x1 = x1 * a + b
            x2 = x2 * a + b
            x3 = x3 * a + b
            x0 = x0 * a + b
            x1 = x1 * a + b
            x2 = x2 * a + b
            x3 = x3 * a + b
            x0 = x0 * a + b
            x1 = x1 * a + b
            x2 = x2 * a + b
            x3 = x3 * a + b
            x0 = x0 * a + b
            x1 = x1 * a + b
            x2 = x2 * a + b
            x3 = x3 * a + b
            x0 = x0 * a + b
            x1 = x1 * a + b
            x2 = x2 * a + b
            x3 = x3 * a + b
            x0 = x0 * a + b
            x1 = x1 * a + b
            x2 = x2 * a + b
            x3 = x3 * a + b
            x0 = x0 * a + b
            x1 = x1 * a + b
            x2 = x2 * a + b
            x3 = x3 * a + b
            x0 = x0 * a + b
            x1 = x1 * a + b
            x2 = x2 * a + b
            x3 = x3 * a + b
            st[0, i] = x0
            st[1, i] = x1
            st[2, i] = x2
            st[3, i] = x3


def peak_ops_per_ns(dtype: np.dtype, threads: int, seconds: float = 0.3) -> float:
    """Measured multiply-add throughput of ``threads`` cores, operations per ns."""
    a = dtype.type(0.999)
    b = dtype.type(1e-3)
    states = [np.ones((4, _CHAIN), dtype) for _ in range(threads)]
    _fma_peak(states[0], a, b, 1)
    reps = 2000
    t0 = time.perf_counter()
    _fma_peak(states[0], a, b, reps)
    reps = max(reps, int(reps * seconds / (time.perf_counter() - t0)))
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        best = 0.0
        for _ in range(3):
            t0 = time.perf_counter()
            list(pool.map(lambda s: _fma_peak(s, a, b, reps), states))
            elapsed = time.perf_counter() - t0
            best = max(best, threads * reps * _CHAIN * 32 / elapsed / 1e9)
    return best


def _setup(n: int, dtype: torch.dtype):
    p = presets.NIFE_PT
    c = llgs.coefficients(p, dtype)
    state = initial_state((n,), p, dtype)
    g = torch.Generator().manual_seed(0)
    m0 = torch.nn.functional.normalize(
        state.m + 0.2 * torch.randn(n, 3, generator=g, dtype=dtype), dim=-1
    )
    j = 3 * p.threshold_current_density() * (1 + 0.2 * torch.rand(n, generator=g))
    axis = torch.tensor(p.readout_axis, dtype=dtype)
    thr = torch.tensor(0.5, dtype=dtype)
    return m0, state.armed, j.to(dtype), c, axis, thr


def _workloads(impl, n_sub, n, dtype):
    m0, armed, j0, c, axis, thr = _setup(n, dtype)
    m = m0.clone().requires_grad_(True)
    j = j0.clone().requires_grad_(True)

    def forward():
        return impl(
            m, armed, j, c, n_sub, 1e-12, "rk4", axis, False, thr, thr, False, None
        )

    def forward_backward():
        out = forward()
        (out[0].sum() + out[3].sum()).backward()

    return forward, forward_backward


def _kernel_only(n_sub, n, dtype):
    """The numba kernels called directly on numpy arrays, one thread, no wrapper."""
    from shno_neurons._kernels_cpu import backward_rk4, forward_rk4

    m0, armed, j0, c, axis, thr = _setup(n, dtype)
    hdl = (c.a_dl * j0.unsqueeze(-1)).squeeze(-1).contiguous().numpy()
    coeffs = (c.h_ext, c.h_k, c.easy_axis, c.ms_n, c.sigma, c.beta_fl, c.gamma)
    pack = fused._pack((*coeffs, c.alpha, axis), (n,)).numpy()
    levels = np.array([[0.5, 0.5]], dtype=np.dtype(str(dtype).split(".")[1]))
    m, a = m0.contiguous().numpy(), armed.numpy()
    outs = [np.empty_like(m), np.empty_like(a), np.empty_like(a), np.empty_like(a)]
    grads = [np.empty_like(m), np.empty_like(hdl), np.empty((1, 1), m.dtype)]
    g_m, g_u = np.ones_like(m), np.ones_like(a)

    def forward():
        forward_rk4(m, a, hdl, pack, levels, 0, n_sub, 1e-12, False, *outs)

    def backward():
        backward_rk4(m, hdl, pack, 0, g_m, g_u, n_sub, 1e-12, False, False, *grads)

    return forward, backward


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--sizes", type=int, nargs="+", default=[3840, 65536])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--substeps", type=int, default=100, help="fused substeps")
    parser.add_argument(
        "--eager-substeps",
        type=int,
        default=10,
        help="eager substeps (its cost per substep does not depend on the count)",
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="one size, 3 repeats")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.repeats = args.sizes[:1], 3
    dtype = getattr(torch, args.dtype)
    np_dtype = np.dtype(args.dtype)

    info = machine()
    print_machine(info)
    rows, table = [], []
    for threads in args.threads:
        torch.set_num_threads(threads)
        peak = peak_ops_per_ns(np_dtype, threads)
        bound_f = OPS_FORWARD / peak
        bound_fb = (OPS_FORWARD + OPS_BACKWARD) / peak
        print(
            f"{threads} thread(s): measured peak {peak:.1f} vector ops/ns -> bound "
            f"{bound_f:.2f} ns forward, {bound_fb:.2f} ns forward+backward"
        )
        for n in args.sizes:
            for name, impl, n_sub in (
                ("eager", _substeps_eager, args.eager_substeps),
                ("fused", fused.substeps, args.substeps),
            ):
                fwd, fwd_bwd = _workloads(impl, n_sub, n, dtype)
                reps = args.repeats if name == "fused" else max(2, args.repeats // 2)
                tf = timeit(fwd, reps)
                tb = timeit(fwd_bwd, reps)
                scale = 1e9 / (n * n_sub)
                row = {
                    "impl": name,
                    "threads": threads,
                    "n": n,
                    "substeps": n_sub,
                    "forward_ns": tf["median"] * scale,
                    "forward_ns_min": tf["min"] * scale,
                    "forward_ns_max": tf["max"] * scale,
                    "forward_backward_ns": tb["median"] * scale,
                    "forward_backward_ns_min": tb["min"] * scale,
                    "forward_backward_ns_max": tb["max"] * scale,
                    "repeats": reps,
                    "peak_ops_per_ns": peak,
                }
                rows.append(row)
                line = [
                    name,
                    threads,
                    n,
                    n_sub,
                    f"{row['forward_ns']:.2f} ({row['forward_ns_min']:.2f}-"
                    f"{row['forward_ns_max']:.2f})",
                    f"{row['forward_backward_ns']:.2f} "
                    f"({row['forward_backward_ns_min']:.2f}-"
                    f"{row['forward_backward_ns_max']:.2f})",
                ]
                table.append(line)
                print(" | ".join(str(x) for x in line), flush=True)
            if threads == 1:
                kf, kb = _kernel_only(args.substeps, n, dtype)
                tf = timeit(kf, args.repeats)
                tb = timeit(kb, args.repeats)
                scale = 1e9 / (n * args.substeps)
                row = {
                    "impl": "kernels only",
                    "threads": 1,
                    "n": n,
                    "substeps": args.substeps,
                    "forward_ns": tf["median"] * scale,
                    "backward_ns": tb["median"] * scale,
                    "forward_backward_ns": (tf["median"] + tb["median"]) * scale,
                }
                rows.append(row)
                table.append(
                    [
                        "kernels only",
                        1,
                        n,
                        args.substeps,
                        f"{row['forward_ns']:.2f}",
                        f"{row['forward_backward_ns']:.2f} (backward "
                        f"{row['backward_ns']:.2f})",
                    ]
                )
                print(" | ".join(str(x) for x in table[-1]), flush=True)
            table.append(
                [
                    "bound",
                    threads,
                    n,
                    "-",
                    f"{bound_f:.2f}",
                    f"{bound_fb:.2f}",
                ]
            )
    config = {
        "dtype": args.dtype,
        "method": "rk4",
        "h": 1e-12,
        "ops_forward": OPS_FORWARD,
        "ops_backward": OPS_BACKWARD,
    }
    md = markdown_table(
        [
            "impl",
            "threads",
            "N",
            "substeps",
            "forward ns/neuron-substep (min-max)",
            "forward+backward ns (min-max)",
        ],
        table,
    )
    write(f"substep_{args.dtype}", info, config, rows, md)


if __name__ == "__main__":
    main()
