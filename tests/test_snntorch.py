"""Tests for the snnTorch front-end, :class:`shno_neurons.snntorch.SHNO`.

Written the way snnTorch tests its own neurons (a class per neuron, fixtures for the
instances), but every fixture builds a fresh neuron. Framework behaviour is checked
with a coarse integrator (``dt = 20 ps``, ``dt_sub = 2 ps``, ten substeps per step):
the point is the wrapper, not the physics, which ``tests/test_llgs.py`` and the
functional tests cover. A drive of 20 j_c makes the default device fire from the
fifth step on.
"""

from __future__ import annotations

import copy
import gc
import io
import math
import pickle
import weakref

import pytest
import snntorch as snn
import snntorch.functional as SF
import torch
import torch._dynamo as dynamo
from snntorch import surrogate
from snntorch.functional import quant
from torch import nn

import shno_neurons
from shno_neurons import NeuronParameters, presets
from shno_neurons.functional import initial_state, rest_direction, shno_step
from shno_neurons.snntorch import SHNO

FAST = dict(dt=2e-11, dt_sub=2e-12)
JC = presets.NIFE_PT.threshold_current_density()
#: First step with a spike at a constant drive of 20 j_c and ``FAST`` settings.
FIRST_SPIKE = 5
#: A lambda at module level: its qualified name cannot be found again.
BARE_LAMBDA = lambda x: surrogate.atan()(x)  # noqa: E731


def drive(*shape: int, low: float = 15.0, high: float = 25.0, seed: int = 0):
    """Current densities between ``low`` and ``high`` times j_c, A/m^2."""
    g = torch.Generator().manual_seed(seed)
    return JC * (low + (high - low) * torch.rand(*shape, generator=g))


def positive_linear(n_in: int, n_out: int) -> nn.Linear:
    """A linear layer with positive weights: inputs of order 20 drive ~20 j_c."""
    fc = nn.Linear(n_in, n_out)
    with torch.no_grad():
        fc.weight.uniform_(0.1, 0.4)
        fc.bias.zero_()
    return fc


def run(neuron: SHNO, xs: torch.Tensor) -> tuple[torch.Tensor, list]:
    """Feed the time-first ``xs`` through ``neuron``; spikes ``[T, ...]``, states."""
    spikes, states = [], []
    for x in xs:
        spk, state = neuron(x)
        spikes.append(spk)
        states.append(state)
    return torch.stack(spikes), states


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


@pytest.fixture
def shno():
    return SHNO(**FAST)


@pytest.fixture
def shno_hidden():
    return SHNO(init_hidden=True, **FAST)


class TestSHNO:
    # -------------------------------------------------------------- the basics
    def test_is_an_snntorch_neuron_with_atan_default(self, shno):
        assert isinstance(shno, snn.SpikingNeuron)
        assert float(shno.threshold) == 0.5
        # snnTorch's atan(alpha=2): dS/dx = 1 / (1 + (pi x)^2).
        x = torch.tensor([0.1, -0.3], requires_grad=True)
        shno.spike_grad(x).sum().backward()
        expected = 1.0 / (1.0 + (math.pi * x.detach()) ** 2)
        torch.testing.assert_close(x.grad, expected)

    def test_equals_the_functional_step(self):
        p = presets.NIFE_PT
        neuron = SHNO(
            threshold=0.4,
            reset_mechanism="zero",
            hysteresis=0.1,
            rest_tilt=0.05,
            j_bias=2e12,
            scale=JC,
            **FAST,
        )
        settings = NeuronParameters(
            threshold=0.4,
            reset="zero",
            hysteresis=0.1,
            rest_tilt=0.05,
            j_bias=2e12,
            surrogate=surrogate.atan(),
            dt_sub=FAST["dt_sub"],
        )
        xs = drive(8, 2, 3) / JC
        state = initial_state((2, 3), p, neuron=settings)
        for x in xs:
            spk, got = neuron(x)
            ref_spk, state = shno_step(JC * x, state, p, FAST["dt"], settings)
            assert torch.equal(spk, ref_spk)
            assert torch.equal(got.m, state.m)
            assert torch.equal(got.armed, state.armed)
        assert spk.dtype == torch.float32

    def test_threshold_outside_readout_range(self):
        with pytest.raises(ValueError, match=r"threshold = 1.0 must lie in \(-1, 1\)"):
            SHNO(threshold=1.0)
        quadratic = presets.NIFE_PT.replace(readout="quadratic")
        with pytest.raises(ValueError, match=r"\(0, 1\)"):
            SHNO(threshold=-0.2, params=quadratic)

    def test_bad_arguments(self):
        with pytest.raises(ValueError, match="dt = 0.001 s"):
            SHNO(dt=1e-3)
        with pytest.raises(ValueError, match="reset_mechanism"):
            SHNO(reset_mechanism="soft")
        with pytest.raises(ValueError, match="not a known preset"):
            SHNO(params="permalloy")
        with pytest.raises(TypeError, match="spike_grad"):
            SHNO(spike_grad=2.0)
        with pytest.raises(ValueError, match="learn_scale=True needs a starting"):
            SHNO(learn_scale=True)
        with pytest.raises(TypeError, match="float32 or float64"):
            SHNO(**FAST)(torch.ones(2, 3, dtype=torch.float16))

    def test_presets_by_object_and_name(self):
        a = SHNO(params=presets.W_COFEB_PMA, **FAST)
        b = SHNO(params="w_cofeb_pma", **FAST)
        x = torch.full((1, 2), 3 * presets.W_COFEB_PMA.threshold_current_density())
        assert torch.equal(a(x)[1].m, b(x)[1].m)
        assert float(a.params.theta_sh) == -0.44

    # -------------------------------------------------------- snnTorch kwargs
    def test_spike_grad_sees_the_readout_margin(self):
        seen = []

        def recording(x):
            seen.append(x.detach())
            return surrogate.fast_sigmoid(slope=25)(x)

        neuron = SHNO(spike_grad=recording, learn_threshold=True, **FAST)
        spk, _ = neuron(torch.full((1, 3), 2 * JC))
        assert spk.sum() == 0
        spk.sum().backward()
        margin = seen[0]
        assert bool((margin < 0).all())
        # fast_sigmoid: dS/dx = 1 / (slope |x| + 1)^2; the threshold enters as -x.
        expected = -(1.0 / (25 * margin.abs() + 1) ** 2).sum()
        torch.testing.assert_close(neuron.threshold.grad, expected)

    def test_surrogate_disable(self):
        neuron = SHNO(surrogate_disable=True, **FAST)
        ref = SHNO(**FAST)
        x = drive(FIRST_SPIKE + 1, 2, 2).double()
        spikes, states = run(neuron, x.requires_grad_())
        ref_spikes, _ = run(ref, x)
        assert torch.equal(spikes, ref_spikes)
        assert spikes.sum() > 0
        assert spikes.dtype == torch.float64
        assert not spikes.requires_grad
        assert states[-1].m.requires_grad

    def test_init_hidden_and_output(self, shno_hidden):
        x = drive(2, 3)
        spk = shno_hidden(x)
        assert isinstance(spk, torch.Tensor) and spk.shape == (2, 3)
        with pytest.raises(TypeError, match="init_hidden=True"):
            shno_hidden(x, shno_hidden.state)
        out = SHNO(init_hidden=True, output=True, **FAST)(x)
        assert isinstance(out, tuple) and out[1].m.shape == (2, 3, 3)
        assert torch.equal(out[1].m, shno_hidden.state.m)

    def test_explicit_state_continues_like_hidden(self, shno, shno_hidden):
        xs = drive(FIRST_SPIKE + 3, 2, 3)
        state = None
        for x in xs:
            spk, state = shno(x, state)
            assert torch.equal(spk, shno_hidden(x))
        assert torch.equal(state.m, shno_hidden.m)

    def test_inhibition(self):
        with pytest.warns(UserWarning, match="Inhibition"):
            neuron = SHNO(inhibition=True, **FAST)
        free = SHNO(**FAST)
        xs = drive(FIRST_SPIKE + 6, 3, 4)
        spikes, _ = run(neuron, xs)
        free_spikes, _ = run(free, xs)
        assert free_spikes.sum(-1).max() > 1
        assert spikes.sum() > 0
        assert spikes.sum(-1).max() == 1
        with pytest.raises(ValueError, match="inhibition=True needs"):
            neuron(torch.ones(4))

    def test_learn_threshold_and_graded_spikes(self):
        neuron = SHNO(
            learn_threshold=True,
            graded_spikes_factor=2.0,
            learn_graded_spikes_factor=True,
            **FAST,
        )
        assert isinstance(neuron.threshold, nn.Parameter)
        assert isinstance(neuron.graded_spikes_factor, nn.Parameter)
        ref = SHNO(**FAST)
        xs = drive(FIRST_SPIKE + 2, 2, 3)
        spikes, _ = run(neuron, xs)
        ref_spikes, _ = run(ref, xs)
        assert ref_spikes.sum() > 0
        assert torch.equal(spikes, 2.0 * ref_spikes)
        spikes.sum().backward()
        assert neuron.graded_spikes_factor.grad == ref_spikes.sum()
        assert torch.isfinite(neuron.threshold.grad) and neuron.threshold.grad != 0

    def test_reset_mechanisms(self):
        def angle(a, b):
            return torch.acos((a * b).sum(-1).clamp(-1, 1))

        m_rest = rest_direction(presets.NIFE_PT, NeuronParameters(), torch.float64)
        xs = drive(FIRST_SPIKE + 1, 1, 2, low=20, high=20).double()
        runs = {}
        for mechanism, value in [("subtract", 0), ("zero", 1), ("none", 2)]:
            neuron = SHNO(reset_mechanism=mechanism, **FAST)
            assert int(neuron.reset_mechanism_val) == value
            runs[mechanism] = run(neuron, xs)
        for spikes, states in runs.values():
            assert not spikes[:-1].any() and spikes[-1].bool().all()
            # Identical dynamics up to the first spike (the resetting mechanisms
            # renormalise m once more per step: a few ulps).
            torch.testing.assert_close(
                states[-2].m, runs["none"][1][-2].m, atol=1e-14, rtol=0
            )
        free = runs["none"][1][-1].m  # "none": m as the dynamics left it
        zero = runs["zero"][1][-1].m  # "zero": m back on its rest direction
        torch.testing.assert_close(zero, m_rest.expand_as(zero))
        # "subtract": m turned toward rest by asin(threshold) = 30 degrees (or onto
        # rest when closer), a fixed reset pulse.
        sub = runs["subtract"][1][-1].m
        turn = torch.minimum(angle(free, m_rest), torch.tensor(math.pi / 6))
        torch.testing.assert_close(angle(free, sub), turn)
        torch.testing.assert_close(
            angle(sub, m_rest), angle(free, m_rest) - turn, atol=1e-6, rtol=0
        )

        # Changing the mechanism as in snnTorch updates the buffer and the physics.
        neuron = SHNO(reset_mechanism="none", **FAST)
        neuron.reset_mechanism = "zero"
        assert int(neuron.reset_mechanism_val) == 1
        _, states = run(neuron, xs)
        torch.testing.assert_close(states[-1].m, zero)

    def test_per_neuron_devices(self):
        p = shno_neurons.with_device_spread(
            presets.NIFE_PT, 3, {"ms": 0.05}, torch.Generator().manual_seed(1)
        )
        neuron = SHNO(params=p, **FAST)
        assert neuron.params.ms.shape == (3,) and neuron.params.m_rest.shape == (3, 3)
        settings = NeuronParameters(surrogate=surrogate.atan(), dt_sub=FAST["dt_sub"])
        state = initial_state((2, 3), p, neuron=settings)
        for x in drive(FIRST_SPIKE + 1, 2, 3):
            spk, got = neuron(x)
            ref, state = shno_step(x, state, p, FAST["dt"], settings)
            assert torch.equal(spk, ref) and torch.equal(got.m, state.m)
        assert spk.sum() > 0
        # Never broadcast a layer of 3 devices over another width.
        neuron.reset_hidden()
        with pytest.raises(ValueError, match="params holds per-neuron values"):
            neuron(drive(2, 4))
        thresholds = SHNO(threshold=torch.tensor([0.4, 0.5]), **FAST)
        with pytest.raises(ValueError, match="threshold holds per-neuron values"):
            thresholds(drive(2, 3))

    def test_state_quant_quantizes_stored_m(self):
        q = quant.state_quant(num_bits=3, uniform=True, threshold=1.0)
        neuron = SHNO(state_quant=q, **FAST)
        plain = SHNO(**FAST)
        x = drive(1, 2).double()
        _, state = neuron(x)
        _, ref = plain(x)
        mq = q(ref.m).double()
        torch.testing.assert_close(state.m, mq / mq.norm(dim=-1, keepdim=True))
        assert state.m.dtype == torch.float64

    def test_physical_quantities_as_buffers_or_parameters(self):
        fixed = SHNO(j_bias=1e12, scale=3e12, **FAST)
        assert {"bias", "gain"} <= set(dict(fixed.named_buffers()))
        # Stored in units of the device's j_c; read back in A/m^2.
        assert float(fixed.params.current_unit) == pytest.approx(JC)
        assert float(fixed.j_bias) == pytest.approx(1e12)
        assert float(fixed.scale) == pytest.approx(3e12)
        assert float(fixed.gain) == pytest.approx(3e12 / JC)
        assert SHNO(**FAST).scale is None and "gain" not in SHNO(**FAST).state_dict()
        learn = SHNO(
            j_bias=1e12, learn_j_bias=True, scale=3e12, learn_scale=True, **FAST
        )
        names = dict(learn.named_parameters())
        assert set(names) == {"bias", "gain"}
        # In units of j_c the gradients are of order one and Adam moves them by lr.
        opt = torch.optim.Adam(learn.parameters(), lr=1e-2)
        spk, state = learn(torch.full((2, 3), 5.0))
        (spk.sum() + state.m[..., 1].sum()).backward()
        grad = learn.gain.grad
        assert torch.isfinite(grad) and grad.abs() > 1e-3
        before = learn.gain.detach().clone()
        opt.step()
        torch.testing.assert_close(learn.gain - before, -1e-2 * grad.sign())

    # ------------------------------------------------------- host containers
    def test_sequential_with_init_hidden(self):
        torch.manual_seed(0)
        net = nn.Sequential(
            positive_linear(4, 3), SHNO(init_hidden=True, scale=JC, **FAST)
        )
        fc = copy.deepcopy(net[0])
        neuron = SHNO(scale=JC, **FAST)
        xs = torch.rand(FIRST_SPIKE + 3, 2, 4) * 40
        state = None
        outputs = []
        for x in xs:
            outputs.append(net(x))
            spk, state = neuron(fc(x), state)
            assert torch.equal(spk, outputs[-1])
        assert torch.stack(outputs).sum() > 0
        assert torch.equal(state.m, net[1].m)

    def test_ce_rate_loss_on_time_first_output(self):
        torch.manual_seed(0)
        fc = positive_linear(4, 3)
        neuron = SHNO(scale=JC, **FAST)
        xs = torch.rand(FIRST_SPIKE + 3, 2, 4) * 40
        spk_rec = torch.stack([neuron(fc(x))[0] for x in xs])
        targets = torch.tensor([0, 2])
        loss = SF.ce_rate_loss()(spk_rec, targets)
        manual = torch.stack(
            [nn.functional.cross_entropy(s, targets) for s in spk_rec]
        ).mean()
        torch.testing.assert_close(loss, manual.reshape(loss.shape))
        loss.backward()
        assert torch.isfinite(fc.weight.grad).all() and fc.weight.grad.abs().sum() > 0

    def test_spikeplot_raster(self):
        matplotlib = pytest.importorskip("matplotlib")
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from snntorch import spikeplot

        neuron = SHNO(**FAST)
        spikes, _ = run(neuron, drive(FIRST_SPIKE + 6, 1, 5))
        fig, ax = plt.subplots()
        try:
            points = spikeplot.raster(spikes[:, 0], ax, s=2)
            expected = torch.stack(torch.where(spikes[:, 0]), dim=1).numpy()
            assert spikes.sum() > 0
            assert (points.get_offsets() == expected).all()
        finally:
            plt.close(fig)

    # ---------------------------------------------------------- hidden state
    @pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
    def test_hidden_state_follows_input_dtype(self, shno, dtype):
        assert shno.state is None
        spk, state = shno(drive(2, 3).to(dtype))
        assert state.m.dtype == dtype and spk.dtype == dtype
        assert shno.m.dtype == dtype
        p = presets.NIFE_PT
        rest = rest_direction(p, NeuronParameters(), torch.float64)
        # One step from rest under drive: m moved, and stayed a unit vector.
        assert not torch.allclose(state.m.double(), rest.expand(2, 3, 3))
        torch.testing.assert_close(
            state.m.norm(dim=-1), torch.ones(2, 3, dtype=dtype), atol=1e-6, rtol=0
        )

    def test_batch_change_needs_a_reset(self, shno_hidden):
        shno_hidden(drive(4, 3))
        with pytest.raises(ValueError, match="batch size .* changed .* reset"):
            shno_hidden(drive(3, 3))
        with pytest.raises(ValueError, match="reset_hidden"):
            shno_hidden(drive(4, 3).double())
        shno_hidden.reset_hidden()
        assert shno_hidden(drive(3, 3)).shape == (3, 3)
        shno_neurons.reset(shno_hidden)
        assert shno_hidden(drive(7, 3)).shape == (7, 3)

    def test_reset_and_detach_touch_only_this_neuron(self):
        before = list(snn.SpikingNeuron.instances)
        a, b = SHNO(**FAST), SHNO(**FAST)
        assert snn.SpikingNeuron.instances == before
        leaky = snn.Leaky(beta=0.9)
        x = drive(2, 3).requires_grad_()
        a(x), b(x)
        leaky(torch.ones(2, 3))
        mem = leaky.mem.clone()
        a.detach_hidden()
        assert not a.m.requires_grad and b.m.requires_grad
        a.reset_hidden()
        assert a.state is None and b.state is not None
        # snnTorch's class-level reset does not reach SHNO neurons.
        snn.Leaky.reset_hidden()
        assert b.state is not None
        assert torch.equal(leaky.mem, torch.zeros_like(mem))
        # An SHNO neuron is not kept alive by any registry.
        ref = weakref.ref(a)
        del a
        gc.collect()
        assert ref() is None

    def test_lif_sized_inputs_without_scale_warn(self):
        # The usual slip of a drop-in swap: Linear outputs of order 1 read as A/m^2.
        net = nn.Sequential(nn.Linear(3, 3), SHNO(init_hidden=True, **FAST))
        with pytest.warns(UserWarning, match="far below any SHNO threshold"):
            net(torch.ones(2, 3))
        SHNO(**FAST)(torch.zeros(2, 3))  # no drive at all: nothing to warn about
        SHNO(**FAST)(torch.full((2, 3), 3 * JC))  # A/m^2: no warning

    def test_recursive_reset(self):
        inner = nn.Sequential(nn.Linear(3, 3), SHNO(init_hidden=True, scale=JC, **FAST))
        net = nn.ModuleDict(
            {"block": inner, "leaky": snn.Leaky(beta=0.9, init_hidden=True)}
        )
        other = snn.Leaky(beta=0.9, init_hidden=True)
        x = torch.ones(2, 3)
        inner(x), net["leaky"](x), other(x)
        other_mem = other.mem.clone()
        shno_neurons.reset(net)
        assert inner[1].state is None
        assert torch.equal(net["leaky"].mem, torch.zeros(2, 3))
        assert torch.equal(other.mem, other_mem)
        with pytest.raises(TypeError, match="torch.nn.Module"):
            shno_neurons.reset([inner])

    def test_spikingjelly_reset_net_contract(self):
        # SpikingJelly's reset_net calls reset() on every module that has one.
        net = nn.Sequential(nn.Linear(3, 3), SHNO(init_hidden=True, scale=JC, **FAST))
        net(torch.ones(2, 3))
        for m in net.modules():
            if callable(getattr(m, "reset", None)):
                m.reset()
        assert net[1].state is None

    def test_spikingjelly_reset_net(self):
        sj = pytest.importorskip("spikingjelly.activation_based.functional")
        net = nn.Sequential(nn.Linear(3, 3), SHNO(init_hidden=True, scale=JC, **FAST))
        net(torch.ones(2, 3))
        sj.reset_net(net)
        assert net[1].state is None
        assert net(torch.ones(5, 3)).shape == (5, 3)

    # ------------------------------------------------ saving and compiling
    def test_save_pickle_deepcopy_state_dict(self):
        torch.manual_seed(0)
        q = quant.state_quant(num_bits=8, uniform=True, threshold=1.0)
        net = nn.Sequential(
            positive_linear(4, 3),
            SHNO(
                init_hidden=True,
                spike_grad=surrogate.fast_sigmoid(slope=10),
                state_quant=q,
                scale=JC,
                learn_scale=True,
                params=presets.NIFE_PT.replace(alpha=0.03),
                **FAST,
            ),
        )
        xs = torch.rand(FIRST_SPIKE + 3, 2, 4) * 40
        # Copy in mid-sequence: the copies carry the hidden state on.
        head = [net(x) for x in xs[:2]]
        buffer = io.BytesIO()
        torch.save(net, buffer)
        buffer.seek(0)
        copies = [
            torch.load(buffer, weights_only=False),
            pickle.loads(pickle.dumps(net)),
            copy.deepcopy(net),
        ]
        fresh = nn.Sequential(
            nn.Linear(4, 3),
            SHNO(init_hidden=True, scale=1.0, learn_scale=True, **FAST),
        )
        fresh.load_state_dict(net.state_dict())
        fresh[1].spike_grad = net[1].spike_grad
        fresh[1].state_quant = net[1].state_quant
        assert float(fresh[1].params.alpha) == 0.03
        assert fresh[1].state is None  # the hidden state is not a weight
        for x in xs[:2]:
            assert torch.equal(fresh(x), head.pop(0))
        copies.append(fresh)
        out = torch.stack([net(x) for x in xs[2:]])
        assert out.sum() > 0
        for twin in copies:
            assert torch.equal(torch.stack([twin(x) for x in xs[2:]]), out)
            assert torch.equal(twin[1].m, net[1].m)

    def test_local_closures_pickle_but_bare_lambdas_do_not(self):
        def make(alpha):
            def inner(x):
                return surrogate.atan(alpha)(x)

            return inner

        neuron = SHNO(spike_grad=make(3.0), **FAST)
        twin = pickle.loads(pickle.dumps(neuron))
        x = torch.tensor([0.2], requires_grad=True)
        twin.spike_grad(x).backward()
        # atan(alpha): dS/dx = alpha / 2 / (1 + (pi alpha x / 2)^2)
        torch.testing.assert_close(
            x.grad, torch.tensor([1.5 / (1 + (math.pi * 0.3) ** 2)])
        )
        with pytest.raises(pickle.PicklingError, match="lambda"):
            pickle.dumps(SHNO(spike_grad=BARE_LAMBDA, **FAST))

    def test_compile_fullgraph_no_breaks(self):
        torch.manual_seed(0)
        compiled_net = nn.Sequential(
            nn.Linear(3, 4),
            SHNO(init_hidden=True, scale=JC, dt=2e-12, dt_sub=2e-12),
        )
        eager_net = copy.deepcopy(compiled_net)

        def unroll(net, xs):
            return torch.stack([net(x) for x in xs]), net[1].m

        xs = torch.rand(2, 2, 3) * 40
        dynamo.reset()
        explanation = dynamo.explain(unroll)(eager_net, xs)
        assert explanation.graph_break_count == 0, explanation.break_reasons
        eager_net[1].reset_hidden()
        # Inductor takes minutes to build these kernels on a CPU; the CUDA test runs it.
        compiled = torch.compile(unroll, fullgraph=True, backend="eager")
        spikes, m = compiled(compiled_net, xs)
        ref_spikes, ref_m = unroll(eager_net, xs)
        dynamo.reset()
        assert torch.equal(spikes, ref_spikes)
        torch.testing.assert_close(m, ref_m, atol=1e-6, rtol=0)

    # ------------------------------------------------------------- training
    def test_truncated_bptt(self):
        torch.manual_seed(0)
        net = nn.Sequential(nn.Linear(3, 3), SHNO(init_hidden=True, scale=JC, **FAST))
        untouched = copy.deepcopy(net)
        xs = torch.rand(12, 2, 3) * 20
        sizes = []
        for chunk in xs.split(4):
            for x in chunk:
                net(x), untouched(x)
            sizes.append(count_nodes(net[1].m))
            net[1].detach_hidden()
            assert not net[1].m.requires_grad
            # Detaching keeps the values: the trajectory is the undetached one.
            assert torch.equal(net[1].m, untouched[1].m)
        assert sizes[0] > 0 and sizes[0] == sizes[1] == sizes[2]
        assert count_nodes(untouched[1].m) > 2 * sizes[0]

    def test_gradient_without_spikes(self):
        torch.manual_seed(0)
        fc = nn.Linear(4, 3)
        neuron = SHNO(scale=JC, **FAST)
        x = torch.rand(2, 4)
        spikes = []
        for _ in range(3):
            spk, state = neuron(fc(x))
            spikes.append(spk)
        total = torch.stack(spikes).sum()
        assert total == 0
        total.backward()
        grad = fc.weight.grad
        assert torch.isfinite(grad).all() and grad.abs().sum() > 0

    @pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
    def test_cuda(self):
        cpu = SHNO(scale=JC, **FAST)
        gpu = copy.deepcopy(cpu).to("cuda")
        assert gpu.params.ms.device.type == "cuda"
        assert gpu.params.ms.dtype == torch.float64
        xs = torch.rand(FIRST_SPIKE + 2, 2, 3, dtype=torch.float64) * 25
        ref, ref_states = run(cpu, xs)
        out, states = run(gpu, xs.cuda())
        assert states[-1].m.device.type == "cuda"
        assert torch.equal(out.cpu(), ref)
        torch.testing.assert_close(states[-1].m.cpu(), ref_states[-1].m)
