"""Tests for the Norse front-end: :class:`shno_neurons.norse.SHNOCell` and
:class:`shno_neurons.norse.SHNO`, and for what both front-ends share.

Written the way Norse tests its own modules (plain test functions building the module
they test). Framework behaviour is checked with a coarse integrator (``dt = 20 ps``,
``dt_sub = 2 ps``); the physics is covered elsewhere. A drive of 20 j_c makes the
default device fire from the fifth step on.
"""

from __future__ import annotations

import copy
import functools
import io
import pickle

import norse.torch as norse
import pytest
import torch
import torch._dynamo as dynamo
from norse.torch.functional.threshold import triangle_fn
from norse.torch.module.snn import SNN, SNNCell
from snntorch import surrogate
from torch import nn

from shno_neurons import NeuronParameters, presets
from shno_neurons.functional import SHNOState, initial_state, rest_direction
from shno_neurons.norse import SHNO, SHNOCell
from shno_neurons.snntorch import SHNO as SnnTorchSHNO

DT = 2e-11
NEURON = NeuronParameters(dt_sub=2e-12)
JC = presets.NIFE_PT.threshold_current_density()
FIRST_SPIKE = 5


def drive(*shape: int, low: float = 15.0, high: float = 25.0, seed: int = 0):
    """Current densities between ``low`` and ``high`` times j_c, A/m^2."""
    g = torch.Generator().manual_seed(seed)
    return JC * (low + (high - low) * torch.rand(*shape, generator=g))


def count_nodes(t: torch.Tensor) -> int:
    """Autograd nodes reachable from ``t``."""
    seen, stack = set(), [t.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        stack.extend(n for n, _ in node.next_functions)
    return len(seen)


def positive_linear(n_in: int, n_out: int) -> nn.Linear:
    """A linear layer with positive weights: inputs of order 20 drive ~20 j_c."""
    fc = nn.Linear(n_in, n_out)
    with torch.no_grad():
        fc.weight.uniform_(0.1, 0.4)
        fc.bias.zero_()
    return fc


def test_shno_cell_is_an_snn_cell():
    cell = SHNOCell(neuron=NEURON, dt=DT)
    assert isinstance(cell, SNNCell)
    z, s = cell(drive(5, 2))
    assert isinstance(s, SHNOState)
    assert z.shape == (5, 2) and s.m.shape == (5, 2, 3) and s.armed.shape == (5, 2)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shno_cell_none_state_is_the_rest_state(dtype):
    cell = SHNOCell(neuron=NEURON, dt=DT)
    x = torch.zeros(3, 2, dtype=dtype)
    rest = cell.initial_state(x)
    assert rest.m.dtype == dtype and rest.armed.dtype == dtype
    m_rest = rest_direction(presets.NIFE_PT, NEURON, dtype)
    assert torch.equal(rest.m, m_rest.expand(3, 2, 3))
    assert torch.equal(rest.armed, torch.ones(3, 2, dtype=dtype))
    z, s = cell(x)
    z_ref, s_ref = cell(x, rest)
    assert torch.equal(s.m, s_ref.m) and z.dtype == dtype


def test_shno_cell_fires_and_resets():
    cell = SHNOCell(neuron=NeuronParameters(dt_sub=2e-12, reset="zero"), dt=DT)
    m_rest = rest_direction(presets.NIFE_PT, NEURON)
    s = None
    for _ in range(FIRST_SPIKE + 1):
        z, s = cell(torch.full((1, 2), 20 * JC), s)
    assert z.bool().all()
    torch.testing.assert_close(s.m, m_rest.expand(1, 2, 3))


def test_shno_cell_rejects_mismatched_state():
    cell = SHNOCell(neuron=NEURON, dt=DT)
    _, s = cell(drive(4, 2))
    with pytest.raises(ValueError, match="batch size or layer width changed"):
        cell(drive(3, 2), s)
    with pytest.raises(ValueError, match="float64"):
        cell(drive(4, 2).double(), s)
    with pytest.raises(TypeError, match="SHNOState"):
        cell(drive(4, 2), torch.zeros(4, 2))
    wide = SHNOCell(neuron=NeuronParameters(threshold=torch.tensor([0.4, 0.5, 0.6])))
    with pytest.raises(ValueError, match="threshold holds per-neuron values"):
        wide(drive(4, 2))


def test_shno_cell_bad_arguments():
    with pytest.raises(ValueError, match="dt = 0.001 s"):
        SHNOCell(dt=1e-3)
    with pytest.raises(ValueError, match="not one of Norse's threshold functions"):
        SHNOCell(method="sigmoid")
    with pytest.raises(ValueError, match="given twice"):
        SHNOCell(neuron=NeuronParameters(surrogate=surrogate.atan()), method="tanh")
    quadratic = presets.NIFE_PT.replace(readout="quadratic")
    with pytest.raises(ValueError, match=r"must lie in \(0, 1\)"):
        SHNOCell(quadratic, NeuronParameters(threshold=-0.2))
    with pytest.raises(TypeError, match="NeuronParameters"):
        SHNOCell(neuron={"threshold": 0.5})


def test_shno_cell_in_sequential_state():
    torch.manual_seed(0)
    model = norse.SequentialState(
        positive_linear(4, 3), SHNOCell(neuron=NEURON, dt=DT, scale=JC)
    )
    fc, cell = model[0], model[1]
    xs = torch.rand(FIRST_SPIKE + 2, 2, 4) * 60
    state, s = None, None
    outputs = []
    for x in xs:
        out, state = model(x, state)
        z, s = cell(fc(x), s)
        assert torch.equal(out, z)
        outputs.append(out)
    assert state[0] is None and torch.equal(state[1].m, s.m)
    assert torch.stack(outputs).sum() > 0


def test_shno_cell_with_lift():
    lifted = norse.Lift(SHNOCell(neuron=NEURON, dt=DT))
    assert lifted.is_stateful
    xs = drive(FIRST_SPIKE + 2, 2, 3)
    z, s = lifted(xs)
    cell = lifted.lifted_module
    ref, state = [], None
    for x in xs:
        out, state = cell(x, state)
        ref.append(out)
    assert torch.equal(z, torch.stack(ref)) and torch.equal(s.m, state.m)
    assert z.sum() > 0


def test_shno_sequence_is_an_snn_and_records_states():
    layer = SHNO(neuron=NEURON, dt=DT)
    recorder = SHNO(neuron=NEURON, dt=DT, record_states=True)
    assert isinstance(layer, SNN)
    xs = drive(FIRST_SPIKE + 2, 3, 2)
    z, s = layer(xs)
    z_rec, s_rec = recorder(xs)
    assert z.shape == (FIRST_SPIKE + 2, 3, 2) and z.sum() > 0
    assert torch.equal(z, z_rec)
    assert s_rec.m.shape == (FIRST_SPIKE + 2, 3, 2, 3)
    assert s_rec.armed.shape == (FIRST_SPIKE + 2, 3, 2)
    assert torch.equal(s_rec.m[-1], s.m) and torch.equal(s_rec.armed[-1], s.armed)
    cell = SHNOCell(neuron=NEURON, dt=DT)
    _, first = cell(xs[0])
    assert torch.equal(s_rec.m[0], first.m)


def test_device_parameters_move_cast_save_and_load():
    p = presets.W_COFEB_PMA
    x = torch.full((2, 3), 3 * p.threshold_current_density())
    cell = SHNOCell(p, NEURON, dt=DT)
    names = dict(cell.named_buffers())
    assert {"p.params.ms", "p.params.sigma", "p.threshold", "p.bias"} <= set(names)
    assert names["p.params.ms"].dtype == torch.float64

    doubled = copy.deepcopy(cell).double()
    assert doubled.p.threshold.dtype == torch.float64
    assert doubled.p.params.ms.dtype == torch.float64
    halved = copy.deepcopy(cell).half()
    assert halved.p.params.ms.dtype == torch.float64  # SI values overflow float16
    z64, s64 = doubled(x.double())
    assert s64.m.dtype == torch.float64 and z64.dtype == torch.float64

    # A cell built for another device takes this one's parameters from a state_dict.
    other = SHNOCell(presets.NIFE_PT, NEURON, dt=DT)
    other.load_state_dict(cell.state_dict())
    assert float(other.p.params.theta_sh) == -0.44
    torch.testing.assert_close(other.p.params.m_rest, cell.p.params.m_rest)
    z, s = cell(x)
    z_other, s_other = other(x)
    assert torch.equal(z, z_other) and torch.equal(s.m, s_other.m)

    moved = copy.deepcopy(cell).to("cpu")
    assert torch.equal(moved(x)[1].m, s.m)


def test_surrogate_by_norse_name():
    seen = []

    def recording_triangle(x):
        seen.append(x.detach())
        return triangle_fn(x, 0.3)

    named = SHNOCell(neuron=NEURON, dt=DT, method="triangle", alpha=0.3)
    recorded = SHNOCell(neuron=NEURON, dt=DT, method=recording_triangle)
    for cell in (named, recorded):
        cell.p.threshold.requires_grad_()
        z, _ = cell(torch.full((1, 3), 2 * JC))
        assert z.sum() == 0
        z.sum().backward()
    # Norse's triangle: dz/dx = alpha relu(1 - |x|); the threshold enters as -x.
    margin = seen[0]
    expected = -(0.3 * torch.relu(1 - margin.abs())).sum()
    torch.testing.assert_close(named.p.threshold.grad, expected)
    torch.testing.assert_close(recorded.p.threshold.grad, expected)


@pytest.mark.parametrize("method", ["super", "tanh", "circ", "heavi_erfc"])
def test_every_norse_method_gives_the_same_spikes(method):
    ref = SHNOCell(neuron=NEURON, dt=DT, method="heaviside")
    cell = SHNOCell(neuron=NEURON, dt=DT, method=method, alpha=10.0)
    s = s_ref = None
    x = drive(2, 3).requires_grad_()
    for _ in range(FIRST_SPIKE + 1):
        z, s = cell(x, s)
        z_ref, s_ref = ref(x, s_ref)
        assert torch.equal(z, z_ref)
    assert z.sum() > 0
    z.sum().backward()
    assert torch.isfinite(x.grad).all()


def test_learnable_quantities():
    cell = SHNOCell(
        neuron=NeuronParameters(dt_sub=2e-12, j_bias=1e12),
        dt=DT,
        scale=3e12,
        learn_threshold=True,
        learn_j_bias=True,
        learn_scale=True,
    )
    assert set(dict(cell.named_parameters())) == {"p.threshold", "p.bias", "p.gain"}
    assert float(cell.p.j_bias.detach()) == pytest.approx(1e12)
    assert float(cell.p.scale.detach()) == pytest.approx(3e12)
    z, s = cell(torch.full((2, 3), 5.0))
    (z.sum() + s.m[..., 1].sum()).backward()
    for param in cell.parameters():
        assert torch.isfinite(param.grad) and param.grad.abs() > 1e-3


def test_front_ends_agree():
    p = presets.NIFE_PT.replace(alpha=0.03)
    settings = NeuronParameters(
        threshold=0.45, hysteresis=0.05, reset="subtract", dt_sub=2e-12
    )
    cell = SHNOCell(p, settings, dt=DT, scale=JC)
    neuron = SnnTorchSHNO.from_parameters(p, settings, dt=DT, scale=JC)
    xs = drive(2 * FIRST_SPIKE, 2, 3) / JC
    s = None
    total = 0.0
    for x in xs:
        z, s = cell(x, s)
        spk, state = neuron(x)
        assert torch.equal(z, spk)
        assert torch.equal(s.m, state.m) and torch.equal(s.armed, state.armed)
        total += float(z.sum())
    assert total > 0


def test_save_pickle_deepcopy_state_dict():
    torch.manual_seed(0)

    def build(method):
        return norse.SequentialState(
            positive_linear(4, 3),
            SHNOCell(
                presets.NIFE_PT.replace(alpha=0.03),
                NEURON,
                dt=DT,
                scale=JC,
                method=method,
                learn_scale=True,
            ),
        )

    model = build(surrogate.fast_sigmoid(slope=10))
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    copies = [
        torch.load(buffer, weights_only=False),
        pickle.loads(pickle.dumps(model)),
        copy.deepcopy(model),
    ]
    fresh = build("super")
    fresh.load_state_dict(model.state_dict())
    fresh[1].p.surrogate = model[1].p.surrogate
    copies.append(fresh)
    assert float(fresh[1].p.params.alpha) == 0.03
    xs = torch.rand(FIRST_SPIKE + 2, 2, 4) * 60

    def unroll(m):
        state, out = None, []
        for x in xs:
            z, state = m(x, state)
            out.append(z)
        return torch.stack(out), state[1]

    z, s = unroll(model)
    assert z.sum() > 0
    for twin in copies:
        z_twin, s_twin = unroll(twin)
        assert torch.equal(z_twin, z) and torch.equal(s_twin.m, s.m)


def test_norse_surrogate_partial_pickles():
    cell = SHNOCell(neuron=NEURON, dt=DT, method="tanh", alpha=5.0)
    twin = pickle.loads(pickle.dumps(cell))
    assert isinstance(twin.p.surrogate, functools.partial)
    assert twin.p.surrogate.keywords == {"method": "tanh", "alpha": 5.0}


def test_compile_fullgraph_no_breaks():
    torch.manual_seed(0)
    model = norse.SequentialState(
        positive_linear(3, 4),
        SHNOCell(neuron=NeuronParameters(dt_sub=2e-12), dt=2e-12, scale=JC),
    )
    x = torch.rand(2, 3) * 60

    def step(m, x):
        z, state = m(x)
        return z, state[1].m

    dynamo.reset()
    explanation = dynamo.explain(step)(model, x)
    assert explanation.graph_break_count == 0, explanation.break_reasons
    # Inductor takes minutes to build these kernels on a CPU; the CUDA test runs it.
    compiled = torch.compile(step, fullgraph=True, backend="eager")
    z, m = compiled(model, x)
    z_ref, m_ref = step(model, x)
    dynamo.reset()
    assert torch.equal(z, z_ref) and torch.equal(m, m_ref)


def test_sequence_compiles_without_breaks():
    layer = SHNO(neuron=NeuronParameters(dt_sub=2e-12), dt=2e-12, record_states=True)
    xs = drive(2, 2, 3)
    dynamo.reset()
    explanation = dynamo.explain(layer)(xs)
    dynamo.reset()
    assert explanation.graph_break_count == 0, explanation.break_reasons


def test_truncated_bptt():
    torch.manual_seed(0)
    fc = positive_linear(3, 3)
    cell = SHNOCell(neuron=NEURON, dt=DT, scale=JC)
    xs = torch.rand(12, 2, 3) * 20
    s = s_full = None
    sizes = []
    for chunk in xs.split(4):
        for x in chunk:
            _, s = cell(fc(x), s)
            _, s_full = cell(fc(x), s_full)
        sizes.append(count_nodes(s.m))
        s = SHNOState(*(t.detach() for t in s))
        assert torch.equal(s.m, s_full.m)
    assert sizes[0] > 0 and sizes[0] == sizes[1] == sizes[2]
    assert count_nodes(s_full.m) > 2 * sizes[0]


def test_gradient_without_spikes():
    torch.manual_seed(0)
    fc = nn.Linear(4, 3)
    layer = SHNO(neuron=NEURON, dt=DT, scale=JC)
    z, _ = layer(fc(torch.rand(3, 2, 4)))
    assert z.sum() == 0
    z.sum().backward()
    grad = fc.weight.grad
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_initial_state_matches_core():
    cell = SHNOCell(neuron=NEURON, dt=DT)
    x = torch.zeros(2, 3, dtype=torch.float64)
    ref = initial_state(x.shape, presets.NIFE_PT, torch.float64, neuron=NEURON)
    s = cell.initial_state(x)
    assert torch.equal(s.m, ref.m) and torch.equal(s.armed, ref.armed)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_and_inductor():
    cell = SHNOCell(neuron=NEURON, dt=DT, scale=JC)
    gpu = copy.deepcopy(cell).to("cuda")
    assert gpu.p.params.ms.device.type == "cuda"
    xs = torch.rand(FIRST_SPIKE + 2, 2, 3, dtype=torch.float64) * 25
    s = s_gpu = None
    for x in xs:
        z, s = cell(x, s)
        z_gpu, s_gpu = gpu(x.cuda(), s_gpu)
        assert s_gpu.m.device.type == "cuda"
        assert torch.equal(z_gpu.cpu(), z)
    torch.testing.assert_close(s_gpu.m.cpu(), s.m)
    with torch.no_grad():
        compiled = torch.compile(gpu, fullgraph=True)
        z_c, s_c = compiled(xs[0].cuda())
        z_e, s_e = gpu(xs[0].cuda())
    assert torch.equal(z_c, z_e)
    torch.testing.assert_close(s_c.m, s_e.m)
