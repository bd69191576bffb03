"""The fused substep kernels against the eager reference they replace.

The eager path (``functional._substeps_eager``) is the definition; the fused kernels
(``shno_neurons.fused``) must give the same spikes and states and the same gradients
to rounding. Checked over several network steps with resets (all three modes),
hysteresis, linear and quadratic readouts, per-neuron devices and thresholds, all
three integrators, learnable upstream and device parameters, and against finite
differences (``gradcheck``) independently of the eager path.

The first run compiles the numba kernels (about 5 s per kernel and dtype on an idle
core, cached in ``__pycache__`` for later runs; see ``benchmarks/README.md``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import pytest
import torch

from shno_neurons import fused, llgs, presets
from shno_neurons.functional import (
    NeuronParameters,
    _substeps_eager,
    initial_state,
    shno_step,
)
from shno_neurons.parameters import with_device_spread

#: Largest disagreement accepted between the fused and eager paths, per dtype:
#: ``state`` absolute on m and u after the whole run; ``grad`` relative to the
#: largest gradient entry. The differences are accumulated rounding: measured 3e-15
#: (states) and 7e-15 (gradients) in float64, 1.4e-6 and 5e-6 in float32 over 600
#: substeps; the float32 bounds leave a factor of 15 to 20.
FUSED_TOL = {
    torch.float64: {"state": 1e-12, "grad": 1e-10},
    torch.float32: {"state": 2e-5, "grad": 1e-4},
}

JC = presets.NIFE_PT.threshold_current_density()
DT = 1e-10


def _currents(shape, dtype, seed=0, low=1.5, high=6.0):
    """Drives between ``low`` and ``high`` times threshold, fixed by ``seed``."""
    g = torch.Generator().manual_seed(seed)
    return (low + (high - low) * torch.rand(shape, generator=g, dtype=dtype)) * JC


def _run(j, p, neuron, steps, dtype, m0=None):
    """``steps`` network steps at constant current ``j``; spikes ``(T,) + S``."""
    state = initial_state(j.shape, p, dtype, neuron=neuron)
    if m0 is not None:
        state = state._replace(m=m0)
    spikes = []
    for _ in range(steps):
        s, state = shno_step(j, state, p, DT, neuron)
        spikes.append(s)
    return torch.stack(spikes), state


def _both(j, p, steps, dtype, **neuron_kw):
    out = {}
    for backend in ("eager", "fused"):
        neuron = NeuronParameters(backend=backend, **neuron_kw)
        out[backend] = _run(j, p, neuron, steps, dtype)
    return out["eager"], out["fused"]


@pytest.mark.parametrize(
    ("reset", "hysteresis", "readout", "threshold"),
    [
        ("subtract", 0.0, "linear", 0.3),
        ("zero", 0.2, "linear", 0.3),
        ("none", 0.1, "linear", 0.3),
        ("subtract", 0.05, "quadratic", 0.1),
        ("zero", 0.0, "quadratic", 0.1),
        ("none", 0.0, "quadratic", 0.1),
    ],
)
def test_spikes_and_states_match_eager_float64(reset, hysteresis, readout, threshold):
    p = presets.NIFE_PT.replace(readout=readout)
    j = _currents((3, 8), torch.float64)
    (s0, st0), (s1, st1) = _both(
        j,
        p,
        8,
        torch.float64,
        reset=reset,
        hysteresis=hysteresis,
        threshold=threshold,
    )
    assert 0 < float(s0.sum()) < s0.numel()  # a mix of spiking and silent steps
    assert torch.equal(s0, s1)
    assert torch.equal(st0.armed, st1.armed)
    torch.testing.assert_close(st1.m, st0.m, rtol=0, atol=1e-12)


@pytest.mark.parametrize("method", ["heun", "euler"])
def test_other_integrators_match_eager(method):
    # Euler needs short substeps to stay on the sphere at all (llgs docstring).
    dt_sub = 1e-13 if method == "euler" else 5e-13
    p = presets.NIFE_PT
    j = _currents((2, 5), torch.float64, seed=3)
    kw = {"method": method, "dt_sub": dt_sub, "threshold": 0.3}
    (s0, st0), (s1, st1) = _both(j, p, 6, torch.float64, **kw)
    assert float(s0.sum()) > 0
    assert torch.equal(s0, s1)
    torch.testing.assert_close(st1.m, st0.m, rtol=0, atol=1e-12)


def test_per_neuron_devices_and_thresholds_match_eager():
    n = 6
    p = with_device_spread(
        presets.NIFE_PT,
        n,
        {"ms": 0.05, "alpha": 0.1, "theta_sh": 0.05, "h_k": 0.1, "beta_fl": 0.1},
        generator=torch.Generator().manual_seed(5),
    )
    p = p.replace(h_k=p.h_k + 500.0, beta_fl=p.beta_fl + 0.1)  # non-zero spreads
    threshold = torch.linspace(0.2, 0.45, n, dtype=torch.float64)
    j = _currents((4, n), torch.float64, seed=4)
    (s0, st0), (s1, st1) = _both(
        j, p, 8, torch.float64, threshold=threshold, hysteresis=0.05
    )
    assert float(s0.sum()) > 0
    assert torch.equal(s0, s1)
    torch.testing.assert_close(st1.m, st0.m, rtol=0, atol=1e-12)


def test_float32_matches_eager_within_stated_tolerance():
    p = presets.NIFE_PT
    tol = FUSED_TOL[torch.float32]["state"]
    j = _currents((4, 16), torch.float32, seed=6)
    (s0, st0), (s1, st1) = _both(j, p, 6, torch.float32, threshold=0.3)
    assert float(s0.sum()) > 0
    # A spike may only differ where the readout margin is within the tolerance; with
    # these drives none is that close.
    assert torch.equal(s0, s1)
    torch.testing.assert_close(st1.m, st0.m, rtol=0, atol=tol)


def test_substeps_outputs_match_eager_directly():
    # The functional contract itself, with a batch-shared per-neuron readout axis
    # and u compared as well as m.
    dtype = torch.float64
    p = presets.NIFE_PT
    c = llgs.coefficients(p, dtype)
    g = torch.Generator().manual_seed(8)
    m = torch.nn.functional.normalize(
        torch.randn(3, 5, 3, generator=g, dtype=dtype), dim=-1
    )
    armed = (torch.rand(3, 5, generator=g) > 0.3).to(dtype)
    j = _currents((3, 5), dtype, seed=9)
    axis = torch.nn.functional.normalize(
        torch.randn(5, 3, generator=g, dtype=dtype), dim=-1
    )
    thr = torch.full((5,), 0.2, dtype=dtype)
    args = (
        m,
        armed,
        j,
        c,
        40,
        2.5e-12,
        "rk4",
        axis,
        False,
        thr,
        thr - 0.1,
        False,
        None,
    )
    ref = _substeps_eager(*args)
    out = fused.substeps(*args)
    for a, b in zip(ref, out, strict=True):
        torch.testing.assert_close(b, a, rtol=0, atol=1e-12)


def _loss_and_grads(backend, dtype, steps=6, reset="subtract", readout="linear"):
    """Train-like loss through several steps; gradients of upstream quantities."""
    torch.manual_seed(0)
    n = 6
    x = torch.rand(4, n, dtype=dtype)
    scale = torch.tensor(4.0 * JC, dtype=dtype, requires_grad=True)
    bias = torch.full((n,), 1.0 * JC, dtype=dtype, requires_grad=True)
    threshold = torch.full((n,), 0.3, dtype=dtype, requires_grad=True)
    p = presets.NIFE_PT.replace(readout=readout)
    neuron = NeuronParameters(
        backend=backend, threshold=threshold, reset=reset, hysteresis=0.05
    )
    j = x * scale + bias
    j.retain_grad()
    spikes, state = _run(j, p, neuron, steps, dtype)
    weights = torch.linspace(0.5, 1.5, steps, dtype=dtype).view(-1, 1, 1)
    loss = (weights * spikes).sum() + state.m[..., 1].pow(2).sum()
    loss.backward()
    return spikes, {
        "current": j.grad,
        "scale": scale.grad,
        "bias": bias.grad,
        "threshold": threshold.grad,
    }


@pytest.mark.parametrize(
    ("dtype", "reset", "readout"),
    [
        (torch.float64, "subtract", "linear"),
        (torch.float64, "zero", "quadratic"),
        (torch.float64, "none", "linear"),
        (torch.float32, "subtract", "linear"),
    ],
)
def test_gradients_match_eager(dtype, reset, readout):
    s0, g0 = _loss_and_grads("eager", dtype, reset=reset, readout=readout)
    s1, g1 = _loss_and_grads("fused", dtype, reset=reset, readout=readout)
    assert torch.equal(s0, s1)
    tol = FUSED_TOL[dtype]["grad"]
    for name, ref in g0.items():
        assert float(ref.abs().max()) > 0, name
        err = float((g1[name] - ref).abs().max() / ref.abs().max())
        assert err < tol, (name, err)


def test_learnable_device_parameters_get_exact_gradients():
    dtype = torch.float64
    n = 4

    def run(backend):
        leaves = {
            "alpha": torch.full((n,), 0.02, dtype=dtype, requires_grad=True),
            "ms": torch.tensor(5.9e5, dtype=dtype, requires_grad=True),
            "theta_sh": torch.full((n,), 0.08, dtype=dtype, requires_grad=True),
            "beta_fl": torch.tensor(0.1, dtype=dtype, requires_grad=True),
            "h_k": torch.full((n,), 2000.0, dtype=dtype, requires_grad=True),
            "easy_axis": torch.tensor([1.0, 0.2, 0.1], dtype=dtype, requires_grad=True),
            "h_ext": torch.tensor([8e4, 3e3, 1e3], dtype=dtype, requires_grad=True),
            "sigma": torch.tensor([-1.0, 0.1, 0.05], dtype=dtype, requires_grad=True),
            "gamma0": torch.tensor(2.21e5, dtype=dtype, requires_grad=True),
        }
        p = presets.NIFE_PT.replace(**leaves)
        neuron = NeuronParameters(backend=backend, threshold=0.3)
        j = _currents((3, n), dtype, seed=11)
        spikes, state = _run(j, p, neuron, 5, dtype)
        (spikes.sum() + state.m[..., 1].sum()).backward()
        return spikes, {k: v.grad for k, v in leaves.items()}

    s0, g0 = run("eager")
    s1, g1 = run("fused")
    assert torch.equal(s0, s1)
    for name, ref in g0.items():
        assert float(ref.abs().max()) > 0, name
        err = float((g1[name] - ref).abs().max() / ref.abs().max())
        assert err < FUSED_TOL[dtype]["grad"], (name, err)


def test_gradient_of_incoming_state_and_readout_ties():
    # At the exact equilibrium with no current the readout is the same at every
    # substep: every torch.maximum ties, and the gradient of u is shared out the
    # way torch.maximum shares it. The fused adjoint must reproduce that.
    dtype = torch.float64
    p = presets.NIFE_PT
    c = llgs.coefficients(p, dtype)
    axis = torch.tensor(p.readout_axis, dtype=dtype)
    m_eq = torch.as_tensor(p.equilibrium(), dtype=dtype)
    tilted = torch.nn.functional.normalize(
        m_eq + torch.tensor([0.0, 0.05, 0.02]), dim=0
    )
    thr = torch.tensor(0.5, dtype=dtype)
    grads = []
    for impl in (_substeps_eager, fused.substeps):
        m = torch.stack([m_eq, tilted]).clone().requires_grad_(True)
        j = torch.tensor([0.0, 2.0 * JC], dtype=dtype, requires_grad=True)
        armed = torch.ones(2, dtype=dtype)
        out = impl(m, armed, j, c, 7, 1e-12, "rk4", axis, False, thr, thr, False, None)
        (out[3].sum() + 0.3 * out[0][..., 2].sum()).backward()
        grads.append((m.grad, j.grad))
    (gm0, gj0), (gm1, gj1) = grads
    assert float(gm0[0].abs().max()) > 0
    torch.testing.assert_close(gm1, gm0, rtol=1e-10, atol=1e-15)
    torch.testing.assert_close(gj1, gj0, rtol=1e-10, atol=1e-30)


@pytest.mark.parametrize("method", ["rk4", "heun", "euler"])
def test_custom_op_gradcheck(method):
    # Finite differences, independent of the eager path: state, drive and the whole
    # parameter pack (fields, axes, damping, gyromagnetic ratio) in one check.
    dtype = torch.float64
    g = torch.Generator().manual_seed(2)
    n = 5
    m = torch.nn.functional.normalize(
        torch.randn(n, 3, generator=g, dtype=dtype), dim=-1
    )
    armed = torch.ones(n, dtype=dtype)
    hdl = 2e4 * torch.rand(n, generator=g, dtype=dtype)
    c = llgs.coefficients(presets.NIFE_PT.replace(h_k=3e3, beta_fl=0.2), dtype)
    axis = torch.tensor([0.0, 1.0, 0.0], dtype=dtype)
    rows = [c.h_ext, c.h_k, c.easy_axis, c.ms_n, c.sigma, c.beta_fl, c.gamma, c.alpha]
    pack = torch.cat([t.reshape(1, -1) for t in (*rows, axis)], -1)
    pack = pack.expand(n, -1).clone()
    pack[:, 15] = torch.linspace(0.01, 0.05, n, dtype=dtype)
    levels = torch.tensor([[0.2, 0.1]], dtype=dtype)
    # Scale the pack to order one so that finite differences resolve every column.
    unit = pack.abs().amax(0).clamp_min(1.0)
    h = {"rk4": 1e-12, "heun": 2e-13, "euler": 5e-14}[method]

    def f(m, hdl, pack_unit):
        # The readout axis (last three columns) has no gradient in the kernel.
        full = torch.cat([pack_unit * unit[:16], pack[:, 16:]], -1)
        out = torch.ops.shno_neurons.substeps(
            m, armed, hdl, full, levels, 4, h, method, True
        )
        return out[0], out[3]

    inputs = (
        m.requires_grad_(True),
        hdl.requires_grad_(True),
        (pack[:, :16] / unit[:16]).requires_grad_(True),
    )
    assert torch.autograd.gradcheck(f, inputs, eps=1e-7, atol=1e-7, rtol=1e-5)


def test_thread_count_does_not_change_results():
    # Two threads split 4 x 130 neurons at 260, inside a row of per-neuron devices:
    # the kernels must find each neuron's parameters from its global index.
    dtype = torch.float64
    n = 130
    p = with_device_spread(
        presets.NIFE_PT, n, {"alpha": 0.1}, generator=torch.Generator().manual_seed(1)
    )
    j = _currents((4, n), dtype, seed=12).requires_grad_(True)
    neuron = NeuronParameters(backend="fused", threshold=0.3)
    before = torch.get_num_threads()
    results = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            j.grad = None
            spikes, state = _run(j, p, neuron, 3, dtype)
            (spikes.sum() + state.m.sum()).backward()
            results.append((spikes, state.m, j.grad.clone()))
    finally:
        torch.set_num_threads(before)
    for a, b in zip(*results, strict=True):
        assert torch.equal(a, b)


def test_backward_saves_only_the_step_boundary():
    # Autograd memory of one step must not grow with the number of substeps.
    dtype = torch.float32
    p = presets.NIFE_PT
    n = 64

    def saved_bytes(n_sub):
        total = 0

        def pack_hook(t):
            nonlocal total
            total += t.numel() * t.element_size()
            return t

        m = initial_state((n,), p, dtype).m.requires_grad_(True)
        c = llgs.coefficients(p, dtype)
        axis = torch.tensor(p.readout_axis, dtype=dtype)
        thr = torch.tensor(0.5, dtype=dtype)
        j = torch.full((n,), 3 * JC, dtype=dtype, requires_grad=True)
        armed = torch.ones(n, dtype=dtype)
        with torch.autograd.graph.saved_tensors_hooks(pack_hook, lambda t: t):
            fused.substeps(
                m, armed, j, c, n_sub, 1e-12, "rk4", axis, False, thr, thr, False, None
            )
        return total

    small, large = saved_bytes(10), saved_bytes(500)
    assert small == large
    assert large <= 8 * 4 * n + 1024  # m (3), drive and current (2) per neuron + pack


def test_thermal_noise_takes_the_eager_path():
    p = presets.NIFE_PT.replace(temperature=300.0)
    j = _currents((2, 3), torch.float64, seed=13)
    out = []
    for backend in ("eager", "fused"):
        neuron = NeuronParameters(backend=backend, threshold=0.3)
        state = initial_state(j.shape, p, torch.float64, neuron=neuron)
        g = torch.Generator().manual_seed(99)
        s, state = shno_step(j, state, p, DT, neuron, generator=g)
        out.append(state.m)
    assert torch.equal(out[0], out[1])


def test_compiles_without_graph_breaks():
    # Dynamo traces shno_step on the fused backend into one graph; the "eager"
    # compiler backend keeps the test fast (no code generation).
    dtype = torch.float32
    p = presets.NIFE_PT
    neuron = NeuronParameters(backend="fused", threshold=0.3)
    state = initial_state((2, 4), p, dtype, neuron=neuron)
    j = torch.full((2, 4), 3 * JC, dtype=dtype)
    m_rest = state.m[0, 0]

    def step(j, m, armed):
        s, st = shno_step(j, type(state)(m, armed), p, DT, neuron, m_rest=m_rest)
        return s, st.m, st.armed

    compiled = torch.compile(step, backend="eager", fullgraph=True)
    s0, m0, a0 = step(j, state.m, state.armed)
    s1, m1, a1 = compiled(j, state.m, state.armed)
    assert torch.equal(s0, s1)
    torch.testing.assert_close(m1, m0, rtol=0, atol=0)


def test_custom_ops_pass_opcheck():
    dtype = torch.float64
    n = 4
    m = torch.nn.functional.normalize(torch.randn(n, 3, dtype=dtype), dim=-1)
    c = llgs.coefficients(presets.NIFE_PT, dtype)
    axis = torch.tensor([0.0, 1.0, 0.0], dtype=dtype)
    rows = [c.h_ext, c.h_k, c.easy_axis, c.ms_n, c.sigma, c.beta_fl, c.gamma, c.alpha]
    pack = torch.cat([t.reshape(1, -1) for t in (*rows, axis)], -1)
    args = (
        m.requires_grad_(True),
        torch.ones(n, dtype=dtype),
        torch.full((n,), 2e4, dtype=dtype, requires_grad=True),
        pack,
        torch.tensor([[0.2, 0.2]], dtype=dtype),
        3,
        1e-12,
        "rk4",
        False,
    )
    with warnings.catch_warnings():
        # opcheck's own fake-tensor conversion reads .grad of a non-leaf it creates
        # (torch 2.14); the warning is about torch's internals, not the operator.
        warnings.filterwarnings("ignore", message="The .grad attribute of a Tensor")
        torch.library.opcheck(torch.ops.shno_neurons.substeps.default, args)


def test_shapes_broadcast_like_eager():
    # A single neuron with no batch (S = ()), and a layer without a batch (S = (N,)).
    dtype = torch.float64
    p = presets.NIFE_PT
    for shape in [(), (5,)]:
        j = torch.full(shape, 3 * JC, dtype=dtype)
        (s0, st0), (s1, st1) = _both(j, p, 3, dtype, threshold=0.3)
        assert st1.m.shape == shape + (3,)
        assert torch.equal(s0, s1)
        torch.testing.assert_close(st1.m, st0.m, rtol=0, atol=1e-12)


_TRITON_CHECK = """
import torch
from shno_neurons import _kernels_cuda as K, fused, llgs, presets  # noqa: F401
dtype = torch.float64
g = torch.Generator().manual_seed(0)
n = 37
m = torch.nn.functional.normalize(torch.randn(n, 3, generator=g, dtype=dtype), dim=-1)
armed = (torch.rand(n, generator=g) > 0.3).to(dtype)
hdl = 3e4 * torch.rand(n, generator=g, dtype=dtype)
c = llgs.coefficients(presets.NIFE_PT.replace(h_k=3e3, beta_fl=0.2), dtype)
axis = torch.tensor([0.0, 1.0, 0.0], dtype=dtype)
rows = [c.h_ext, c.h_k, c.easy_axis, c.ms_n, c.sigma, c.beta_fl, c.gamma, c.alpha]
pack = torch.cat([t.reshape(1, -1) for t in (*rows, axis)], -1).expand(5, -1).clone()
pack[:, 15] = torch.linspace(0.01, 0.05, 5, dtype=dtype)
levels = torch.tensor([[0.1, 0.05], [0.2, 0.1]], dtype=dtype)
fired = 0.0
for method in ("rk4", "heun", "euler"):
    for quad in (False, True):
        args = (m, armed, hdl, pack, levels, 6, 2e-13, method, quad)
        ref = torch.ops.shno_neurons.substeps(*args)
        out = K.forward(*args)
        fired += float(ref[2].sum())
        for a, b in zip(ref, out):
            assert float((a - b).abs().max()) < 1e-14, (method, quad)
        gm = torch.randn(n, 3, generator=g, dtype=dtype)
        gu = torch.randn(n, generator=g, dtype=dtype)
        bargs = (gm, gu, m, hdl, pack, 6, 2e-13, method, quad, True)
        ref = torch.ops.shno_neurons.substeps_backward(*bargs)
        out = K.backward(*bargs)
        for a, b in zip(ref, out):
            assert float((a - b).abs().max() / a.abs().max()) < 1e-13, (method, quad)
assert fired > 0
print("ok")
"""


def test_triton_kernels_match_cpu_in_the_interpreter():
    # Triton's CPU interpreter runs the CUDA kernels' arithmetic and indexing (not
    # their GPU compilation) on CPU tensors; it must be chosen before Triton loads,
    # hence the subprocess.
    pytest.importorskip("triton")
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    result = subprocess.run(
        [sys.executable, "-c", _TRITON_CHECK],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cuda_matches_cpu(dtype):
    p = presets.NIFE_PT
    neuron = NeuronParameters(backend="fused", threshold=0.3)
    results = []
    for device in ("cpu", "cuda"):
        j = _currents((3, 8), dtype, seed=14).to(device).requires_grad_(True)
        state = initial_state(j.shape, p, dtype, device, neuron=neuron)
        spikes = []
        for _ in range(5):
            s, state = shno_step(j, state, p, DT, neuron)
            spikes.append(s)
        spikes = torch.stack(spikes)
        (spikes.sum() + state.m[..., 1].sum()).backward()
        results.append((spikes.cpu(), state.m.detach().cpu(), j.grad.cpu()))
    (s0, m0, g0), (s1, m1, g1) = results
    assert torch.equal(s0, s1)
    torch.testing.assert_close(m1, m0, rtol=0, atol=FUSED_TOL[dtype]["state"])
    err = float((g1 - g0).abs().max() / g0.abs().max())
    assert err < FUSED_TOL[dtype]["grad"]
