"""The functional neuron step: spike detection, hysteresis, resets, gradients, errors.

Reference trajectories come from :func:`shno_neurons.llgs.simulate` with the same
integrator and substep, so the crossing detector is checked against the substeps it
should have seen, not against itself.
"""

from __future__ import annotations

import math

import pytest
import torch

from shno_neurons import functional, llgs, presets
from shno_neurons.constants import K_B, MU0
from shno_neurons.functional import (
    NeuronParameters,
    SHNOState,
    initial_state,
    readout,
    rest_direction,
    shno_step,
)

F64 = torch.float64


def _unit(v: torch.Tensor) -> torch.Tensor:
    return v / torch.linalg.vector_norm(v, dim=-1, keepdim=True)


def _state(m: torch.Tensor) -> SHNOState:
    return SHNOState(m=m, armed=torch.ones(m.shape[:-1], dtype=m.dtype))


def _smooth(x: torch.Tensor) -> torch.Tensor:
    """A smooth stand-in for the Heaviside, so gradcheck sees the margin path."""
    return torch.sigmoid(x / 0.05)


def _upswing_start(p, tilt: float) -> torch.Tensor:
    """A start on a free precession orbit of Set A where m_y = 0 and rising."""
    for sign in (1.0, -1.0):
        m = torch.tensor([math.cos(tilt), 0.0, sign * math.sin(tilt)], dtype=F64)
        if float(llgs.llgs_rhs(m, 0.0, p)[1]) > 0:
            return m
    raise AssertionError("no rising start found")  # pragma: no cover


def _reference_spikes(r: torch.Tensor, n_sub: int, threshold: float, rearm: float):
    """The documented spike rule applied to a readout sampled at every substep.

    ``r`` has shape ``(steps * n_sub + 1,)`` (the start included); returns one 0/1
    per network step.
    """
    armed, spikes = True, []
    for step in range(len(r) // n_sub):
        fired = False
        for value in r[step * n_sub + 1 : (step + 1) * n_sub + 1].tolist():
            if armed and value >= threshold:
                fired, armed = True, False
            elif value < rearm:
                armed = True
        spikes.append(float(fired))
    return torch.tensor(spikes, dtype=F64)


# --------------------------------------------------------- detection inside a step
def test_spike_inside_one_step_is_seen(set_a):
    # Free precession at 8.1 GHz: m_y rises from 0, peaks after ~31 ps and falls
    # again; a 45 ps network step ends below the peak.
    m0 = _upswing_start(set_a, 0.2)
    dt = 45e-12
    _, traj = llgs.simulate(m0, 0.0, set_a, dt, 1e-12, method="rk4")
    r = readout(traj, set_a)
    peak, start, end = float(r.max()), float(r[0]), float(r[-1])
    threshold = 0.5 * (peak + max(start, end))
    assert start < threshold and end < threshold < peak
    k = int(torch.nonzero(r >= threshold)[0, 0])
    assert 0 < k < len(r) - 1 and float(r[k - 1]) < threshold  # crossed mid-step

    neuron = NeuronParameters(threshold=threshold, reset="none", dt_sub=1e-12)
    spikes, state = shno_step(
        torch.zeros(1, dtype=F64), _state(m0[None]), set_a, dt, neuron
    )
    assert spikes.tolist() == [1.0]
    # Without hysteresis the neuron re-armed as soon as m_y fell back below threshold.
    assert float(state.armed[0]) == 1.0
    # The step integrates exactly the reference substeps.
    assert torch.allclose(state.m[0], traj[-1], rtol=0, atol=1e-13)


# ------------------------------------------------------------------- hysteresis
@pytest.mark.parametrize("hysteresis", [0.0, 0.35])
def test_hysteresis_matches_the_rule_on_the_substeps(set_a, hysteresis):
    # Field 23.6 degrees off x, so the undamped orbit keeps m_y between ~0.2 and
    # ~0.6: it crosses threshold 0.5 every period (123 ps).
    theta = math.asin(0.4)
    h = 0.1 / MU0
    p = set_a.replace(alpha=0.0, h_ext=(h * math.cos(theta), h * math.sin(theta), 0.0))
    m0 = _unit(torch.tensor([math.cos(theta), math.sin(theta), 0.07], dtype=F64))
    steps, dt, n_sub = 12, 1e-10, 100
    _, traj = llgs.simulate(m0, 0.0, p, steps * dt, dt / n_sub, method="rk4")
    r = readout(traj, p)
    assert 0.15 < float(r.min()) < 0.25 and 0.55 < float(r.max()) < 0.65

    neuron = NeuronParameters(threshold=0.5, hysteresis=hysteresis, reset="none")
    state, spikes = _state(m0[None]), []
    for _ in range(steps):
        s, state = shno_step(torch.zeros(1, dtype=F64), state, p, dt, neuron)
        spikes.append(float(s[0]))
    expected = _reference_spikes(r, n_sub, 0.5, 0.5 - hysteresis)
    assert torch.equal(torch.tensor(spikes, dtype=F64), expected)
    if hysteresis == 0.35:  # re-arm level 0.15 is never reached: a single spike
        assert sum(spikes) == 1
    else:  # re-armed every period: one spike per upward crossing of the threshold
        crossings = int(((r[:-1] < 0.5) & (r[1:] >= 0.5)).sum())
        assert sum(spikes) == crossings >= 8


def test_hysteresis_stops_double_counting_a_noisy_excursion(set_a):
    # Thermal noise (cone of 0.06 rad) around an equilibrium with m_y = 0.4 and a
    # threshold at 0.45; 20 ps network steps. An excursion that dips just below
    # the threshold at a step boundary and comes back fires twice without
    # hysteresis, once with it.
    theta = math.asin(0.4)
    h = 0.1 / MU0
    p = set_a.replace(alpha=0.05, h_ext=(h * math.cos(theta), h * math.sin(theta), 0.0))
    s = p.stiffness_fields()
    volume = K_B * 300.0 / (MU0 * p.ms * s.h1 * 0.06**2)
    p = p.replace(temperature=300.0, volume=volume)
    m0 = torch.as_tensor(s.m0, dtype=F64)[None]
    steps, dt, n_sub = 60, 2e-11, 20
    _, traj = llgs.simulate(
        m0, 0.0, p, steps * dt, dt / n_sub, generator=torch.Generator().manual_seed(11)
    )
    r = readout(traj, p)[:, 0]
    counts = {}
    for hysteresis in (0.0, 0.1):
        neuron = NeuronParameters(threshold=0.45, hysteresis=hysteresis, reset="none")
        gen = torch.Generator().manual_seed(11)  # the same noise as the reference
        state, spikes = _state(m0.clone()), []
        for _ in range(steps):
            out, state = shno_step(
                torch.zeros(1, dtype=F64), state, p, dt, neuron, generator=gen
            )
            spikes.append(float(out[0]))
        expected = _reference_spikes(r, n_sub, 0.45, 0.45 - hysteresis)
        assert torch.equal(torch.tensor(spikes, dtype=F64), expected)
        counts[hysteresis] = sum(spikes)
    assert counts[0.0] > counts[0.1] >= 3


# ------------------------------------------------------------------------ resets
def _reset_case(p, reset, reset_angle=None):
    """Two neurons: one precessing through the threshold, one at rest."""
    m0 = _upswing_start(p, 0.2)
    neuron = NeuronParameters(
        threshold=0.3, reset=reset, reset_angle=reset_angle, dt_sub=1e-12
    )
    rest = rest_direction(p, neuron, F64)
    m = torch.stack([m0, rest])
    return shno_step(torch.zeros(2, dtype=F64), _state(m), p, 45e-12, neuron), rest


def _angle(a, b):
    return float(torch.acos((a * b).sum(-1).clamp(-1, 1)))


def test_reset_none_leaves_the_trajectory_alone(set_a):
    (spikes, state), _ = _reset_case(set_a, "none")
    m0 = _upswing_start(set_a, 0.2)
    _, traj = llgs.simulate(m0, 0.0, set_a, 45e-12, 1e-12, method="rk4")
    assert spikes.tolist() == [1.0, 0.0]
    assert torch.allclose(state.m[0], traj[-1], rtol=0, atol=1e-13)


def test_reset_zero_returns_to_rest(set_a):
    (spikes, state), rest = _reset_case(set_a, "zero")
    (_, free), _ = _reset_case(set_a, "none")
    assert spikes.tolist() == [1.0, 0.0]
    assert torch.allclose(state.m[0], rest, rtol=0, atol=1e-14)
    assert torch.equal(state.m[1], free.m[1])  # no spike, no reset
    # At rest the readout is below threshold again, so the neuron is re-armed.
    assert state.armed.tolist() == [1.0, 1.0]


@pytest.mark.parametrize("reset_angle", [None, 0.1])
def test_reset_subtract_rotates_toward_rest_by_the_angle(set_a, reset_angle):
    (spikes, state), rest = _reset_case(set_a, "subtract", reset_angle)
    (_, free), _ = _reset_case(set_a, "none")
    angle = math.asin(0.3) if reset_angle is None else reset_angle
    before, after = free.m[0], state.m[0]
    assert spikes.tolist() == [1.0, 0.0]
    assert _angle(before, after) == pytest.approx(angle, abs=1e-9)
    # Along the great circle toward rest: the angle to rest shrinks by exactly that.
    assert _angle(after, rest) == pytest.approx(_angle(before, rest) - angle, abs=1e-9)
    assert torch.equal(state.m[1], free.m[1])


# ------------------------------------------------------------------ bad or odd input
def test_step_is_pure(set_a):
    j = torch.full((2, 3), 3 * set_a.threshold_current_density(), dtype=F64)
    state = initial_state(j.shape, set_a, F64)
    copies = (j.clone(), state.m.clone(), state.armed.clone())
    shno_step(j, state, set_a, 1e-10, NeuronParameters(threshold=0.05))
    assert torch.equal(j, copies[0])
    assert torch.equal(state.m, copies[1]) and torch.equal(state.armed, copies[2])


def test_non_finite_input_raises_with_count(set_a):
    j = torch.zeros(2, 3)
    j[0, 0], j[1, 1], j[1, 2] = math.nan, math.inf, -math.inf
    with pytest.raises(ValueError, match="input_current has 3 non-finite entries"):
        shno_step(j, initial_state(j.shape, set_a), set_a)


def test_wrongly_shaped_state_raises(set_a):
    state = initial_state((4, 3), set_a)
    with pytest.raises(ValueError, match=r"state\.m has shape \(4, 3, 3\)"):
        shno_step(torch.zeros(4, 5), state, set_a)


def test_mixed_dtypes_raise(set_a):
    state = initial_state((4,), set_a, torch.float32)
    with pytest.raises(ValueError, match=r"dtype torch\.float64 but state\.m"):
        shno_step(torch.zeros(4, dtype=torch.float64), state, set_a)


def test_huge_current_is_subdivided_or_raises(set_a):
    j = torch.tensor([1e16, 0.0], dtype=F64)
    state = initial_state(j.shape, set_a, F64)
    with pytest.warns(UserWarning, match="split into"):
        spikes, new = shno_step(j, state, set_a, 1e-11)
    assert torch.isfinite(spikes).all() and torch.isfinite(new.m).all()
    assert torch.allclose(
        torch.linalg.vector_norm(new.m, dim=-1), torch.ones(2, dtype=F64)
    )
    with pytest.raises(ValueError, match="stability limit"):
        shno_step(j, state, set_a, 1e-11, NeuronParameters(on_unstable="raise"))


@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
@pytest.mark.parametrize("threshold", [0.5, -0.5])
def test_degenerate_states_give_finite_values_and_gradients(set_a, reset, threshold):
    # Zero current; m along sigma (-x) and along the equilibrium (+x), exactly; a
    # negative threshold makes them fire at once, so the reset meets m == rest and
    # m == -rest.
    neuron = NeuronParameters(threshold=threshold, reset=reset, rest_tilt=0.0)
    m = torch.tensor([[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]], dtype=F64)
    j = torch.zeros(2, dtype=F64, requires_grad=True)
    spikes, state = shno_step(j, _state(m), set_a, 2e-11, neuron)
    assert torch.isfinite(spikes).all() and torch.isfinite(state.m).all()
    assert spikes.tolist() == ([1.0, 1.0] if threshold < 0 else [0.0, 0.0])
    (spikes.sum() + state.m.sum()).backward()
    assert j.grad is not None and torch.isfinite(j.grad).all()


def test_gradient_reaches_the_current_without_spikes(set_a):
    j_c = set_a.threshold_current_density()
    j = torch.tensor([[0.5, 1.0, 2.0]], dtype=F64) * j_c
    j.requires_grad_(True)
    spikes, _ = shno_step(j, initial_state(j.shape, set_a, F64), set_a, 1e-10)
    assert spikes.sum() == 0
    spikes.sum().backward()
    assert torch.isfinite(j.grad).all() and bool((j.grad != 0).all())


def test_gradcheck_margin_path_of_the_step(set_a):
    j_c = set_a.threshold_current_density()
    m0 = _unit(torch.tensor([[0.95, 0.2, 0.1], [0.9, -0.3, 0.2]], dtype=F64))
    neuron = NeuronParameters(
        threshold=0.3, reset="none", surrogate=_smooth, dt_sub=1e-12
    )

    def step(x):  # x: current in units of j_c, shape (2,)
        spikes, state = shno_step(x * j_c, _state(m0), set_a, 1e-11, neuron)
        return spikes, state.m

    x = torch.tensor([2.0, 3.0], dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(step, (x,), eps=1e-6, atol=1e-8)


# ------------------------------------------------------- shapes, dtypes, broadcast
@pytest.mark.parametrize("shape", [(2, 3), (2, 2, 3)], ids=["BN", "TBN"])
def test_step_shapes_dtypes_and_per_neuron_parameters(set_a, dtype, shape, tol):
    alpha = torch.tensor([0.01, 0.02, 0.04], dtype=F64)
    p = set_a.replace(alpha=alpha)
    threshold = torch.tensor([0.05, 0.1, 0.2], dtype=dtype)
    neuron = NeuronParameters(threshold=threshold, reset="zero")
    gen = torch.Generator().manual_seed(9)
    j = (2 + 2 * torch.rand(shape, generator=gen, dtype=dtype)) * 1.05e12
    state = initial_state(shape, p, dtype, neuron=neuron)
    assert state.m.shape == (*shape, 3) and state.m.dtype == dtype
    spikes, new = shno_step(j, state, p, 1e-10, neuron)
    assert spikes.shape == shape and spikes.dtype == dtype
    assert new.m.shape == (*shape, 3) and new.armed.shape == shape
    # Each neuron alone, with its own scalar parameters, gives the same result.
    for k in range(3):
        pk = set_a.replace(alpha=float(alpha[k]))
        nk = NeuronParameters(threshold=float(threshold[k]), reset="zero")
        jk = j[..., k]
        sk, newk = shno_step(
            jk, initial_state(jk.shape, pk, dtype, neuron=nk), pk, 1e-10, nk
        )
        assert torch.equal(spikes[..., k], sk)
        assert torch.allclose(new.m[..., k, :], newk.m, rtol=0, atol=tol(dtype, "same"))


def test_thermal_noise_in_the_step_follows_the_generator(set_a):
    p = set_a.replace(temperature=300.0)
    j = torch.zeros(2, 3, dtype=F64)
    state = initial_state(j.shape, p, F64)

    def run(gen):
        return shno_step(j, state, p, 2e-11, generator=gen)[1].m

    a = run(torch.Generator().manual_seed(5))
    assert torch.equal(a, run(torch.Generator().manual_seed(5)))
    gen = torch.Generator().manual_seed(5)
    first, second = run(gen), run(gen)
    assert torch.equal(first, a) and not torch.equal(first, second)
    flat = a.reshape(6, 3)
    assert float((torch.cdist(flat, flat) + torch.eye(6, dtype=F64)).min()) > 1e-6


def test_module_exports():
    assert {"SHNOState", "NeuronParameters", "shno_step", "initial_state"} <= set(
        functional.__all__
    )
    assert presets.NIFE_PT.readout == "linear"
