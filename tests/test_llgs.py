"""The LLGS solver against closed forms (PHYSICS.md, checks 1 to 7 and 9).

Each test names the physics it checks and the tolerance it reaches; the dtype-dependent
tolerances come from ``conftest.TOL``. Settings are coarse but honest: each check runs
in a few seconds on two CPU cores, in float64 where the number is a precision claim.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from shno_neurons import characterise, llgs, presets
from shno_neurons.constants import K_B, MU0
from shno_neurons.parameters import SHNOParameters

F64 = torch.float64


def _unit(v: torch.Tensor) -> torch.Tensor:
    return v / torch.linalg.vector_norm(v, dim=-1, keepdim=True)


# ------------------------------------------------------------ 1. |m| = 1 always
@pytest.mark.parametrize("method", ["rk4", "heun", "euler"])
def test_norm_is_one_at_every_step_for_random_inputs(set_a, dtype, method, tol):
    gen = torch.Generator().manual_seed(7)
    j_c = set_a.threshold_current_density()
    # A grid of currents from zero to a thousand times threshold, both signs.
    grid = torch.tensor([0.0, 0.3, 1.0, 3.0, 30.0, 1000.0], dtype=F64) * j_c
    j = torch.cat([grid, -grid]).to(dtype).repeat_interleave(16)
    m = _unit(torch.randn(j.shape[0], 3, generator=gen, dtype=dtype))
    c = llgs.coefficients(set_a, dtype)
    h_dl = c.a_dl * j.unsqueeze(-1)
    for _ in range(40):
        m = llgs.step(m, h_dl, c, 1e-12, method)
        assert bool(torch.isfinite(m).all())
        norm = torch.linalg.vector_norm(m, dim=-1)
        assert float((norm - 1).abs().max()) < tol(dtype, "norm")


def test_simulate_keeps_unit_norm_and_warns_for_a_huge_current(set_a, tol):
    m0 = _unit(torch.randn(8, 3, generator=torch.Generator().manual_seed(1), dtype=F64))
    with pytest.warns(UserWarning, match="results may be inaccurate"):
        _, traj = llgs.simulate(m0, 1e16, set_a, 2e-11, 1e-12)
    norm = torch.linalg.vector_norm(traj, dim=-1)
    assert bool(torch.isfinite(traj).all())
    assert float((norm - 1).abs().max()) < tol(F64, "norm")


# ------------------------------------------------- 2. Larmor and Kittel frequencies
@pytest.mark.parametrize(
    ("demag", "closed_form"),
    [((0.0, 0.0, 0.0), 2.8025e9), ((0.0, 0.0, 1.0), 8.1224e9)],
    ids=["larmor", "kittel"],
)
def test_free_precession_frequency(set_a, demag, closed_form):
    # Undamped, so the simulated precession is the free FMR mode the formula describes.
    p = set_a.replace(alpha=0.0, demag=demag)
    sweep = characterise.sweep_current(p, [0.0], t_end=2e-9, tilt=0.01)
    f = float(sweep.frequency[0])
    assert f == pytest.approx(p.kittel_frequency(), rel=1e-4)  # measured: 8e-6
    assert f == pytest.approx(closed_form, rel=1e-3)


# ------------------------------------------------------ 3. small-angle relaxation
def test_small_angle_decay_rate_at_zero_current(set_a):
    sweep = characterise.sweep_current(set_a, [0.0], t_end=3e-9)
    rate = -float(sweep.growth_rate[0])
    assert set_a.decay_rate() == pytest.approx(1.6545e9, rel=1e-4)
    assert rate == pytest.approx(set_a.decay_rate(), rel=0.01)  # measured: 5e-5


# ------------------------------------------------------- 4. auto-oscillation onset
def test_threshold_onset_growth_linear_in_current(set_a):
    j_c = set_a.threshold_current_density()
    ratios = torch.tensor([0.8, 0.9, 1.0, 1.1, 1.2], dtype=F64)
    tilt = 0.02
    sweep = characterise.sweep_current(set_a, ratios * j_c, t_end=3e-9, tilt=tilt)

    # Amplitude decays below threshold and grows above it.
    assert float(sweep.amplitude[1]) < tilt < float(sweep.amplitude[3])
    assert float(sweep.growth_rate[1]) < 0 < float(sweep.growth_rate[3])

    # Growth rate proportional to the distance from threshold: linear in j with
    # slope gamma0 a_DL / (1 + alpha^2) (the antidamping rate per unit current).
    rate = sweep.growth_rate.numpy()
    slope, intercept = np.polyfit(ratios.numpy(), rate, 1)
    residual = rate - (slope * ratios.numpy() + intercept)
    gamma = set_a.gamma0 / (1 + set_a.alpha**2)
    assert slope == pytest.approx(gamma * set_a.h_dl_per_j() * j_c, rel=0.02)
    assert np.abs(residual).max() < 0.01 * set_a.decay_rate()
    # Threshold from each side: the line through the points below it, and through
    # the points above it, each cross zero within 2% of j_c.
    for side in (slice(0, 3), slice(2, 5)):
        s, b = np.polyfit(ratios.numpy()[side], rate[side], 1)
        assert -b / s == pytest.approx(1.0, abs=0.02)
    # And extract_threshold on the whole sweep (measured: 1e-4 off).
    assert characterise.extract_threshold(sweep) == pytest.approx(j_c, rel=0.005)


# -------------------------------------------------- 5. exact collinear solution
def test_exact_collinear_solution():
    # H along z, sigma = -z, no anisotropy or demag, with a field-like torque.
    h, alpha, beta, h_dl = 0.2 / MU0, 0.1, 0.2, 5000.0
    p = SHNOParameters(
        alpha=alpha, h_ext=(0.0, 0.0, h), demag=(0.0, 0.0, 0.0),
        sigma=(0.0, 0.0, -1.0), beta_fl=beta,
    )  # fmt: skip
    gamma = p.gamma0 / (1 + alpha**2)
    h_z = h - beta * h_dl  # the field-like part along sigma = -z
    s = -1.0
    inv_tau = gamma * (alpha * h_z + s * h_dl)
    omega = gamma * (h_z - alpha * s * h_dl)
    theta0, phi0 = 2.6, 0.3
    m0 = torch.tensor(
        [math.sin(theta0) * math.cos(phi0), math.sin(theta0) * math.sin(phi0),
         math.cos(theta0)], dtype=F64,
    )  # fmt: skip
    # dt = 0.125 ps: error 7e-11 (0.25 ps gives 1.1e-9, fourth order).
    t, traj = llgs.simulate(
        m0, h_dl / p.h_dl_per_j(), p, 1e-9, 1.25e-13, record_every=20, method="rk4"
    )
    m_z = torch.tanh(t * inv_tau + math.atanh(math.cos(theta0)))
    phi = phi0 + omega * t
    sin_theta = torch.sqrt(1 - m_z * m_z)
    exact = torch.stack(
        [sin_theta * torch.cos(phi), sin_theta * torch.sin(phi), m_z], dim=-1
    )
    assert float(m_z[-1]) > 0.7  # m really crossed the equator during the run
    assert float((traj - exact).abs().max()) < 1e-9


# ---------------------------------------------------------- 6. energy balance
def test_energy_balance_along_a_trajectory():
    # A generic geometry: tilted field, anisotropy, three demag factors, field-like
    # torque and a polarization along no symmetry axis, driven at 2 j_c.
    p = presets.NIFE_PT.replace(
        h_ext=(0.08 / MU0, 0.03 / MU0, 0.01 / MU0),
        h_k=0.02 / MU0,
        easy_axis=(1.0, 1.0, 0.2),
        demag=(0.02, 0.03, 0.95),
        sigma=(-0.8, 0.6, 0.0),
        beta_fl=0.2,
    )
    j = 2 * presets.NIFE_PT.threshold_current_density()
    dt = 2e-13
    m0 = _unit(torch.tensor([0.6, 0.5, 0.3], dtype=F64))
    _, m = llgs.simulate(m0, j, p, 0.5e-9, dt, method="rk4")
    c = llgs.coefficients(p, F64)

    def dot(a, b):
        return (a * b).sum(-1)

    # E / (mu0 Ms V), A/m.
    energy = -(
        dot(m, c.h_ext)
        + 0.5 * c.h_k[0] * dot(m, c.easy_axis) ** 2
        - 0.5 * dot(c.ms_n, m * m)
    )
    h = llgs.effective_field(m, c)
    h_dl = c.a_dl[0] * j
    h_s = c.beta_fl[0] * h_dl * c.sigma + h_dl * torch.linalg.cross(
        m, c.sigma.expand_as(m)
    )
    g, a = c.gamma[0], c.alpha[0]
    p_damp = -a * g * dot(torch.linalg.cross(m, h), torch.linalg.cross(m, h))
    p_st = g * (
        dot(h, torch.linalg.cross(m, h_s)) + a * (dot(m, h) * dot(m, h_s) - dot(h, h_s))
    )
    power = p_damp + p_st
    work = torch.cat(
        [power.new_zeros(1), torch.cumsum(0.5 * (power[1:] + power[:-1]) * dt, 0)]
    )
    scale = float((p_damp.abs() + p_st.abs()).sum() * dt)
    # Both terms matter: neither alone balances the energy.
    change = energy - energy[0]
    assert float((change - torch.cumsum(p_damp, 0) * dt).abs().max()) > 0.1 * scale
    assert float((change - torch.cumsum(p_st, 0) * dt).abs().max()) > 0.1 * scale
    # Measured: 4e-7 of the total work (trapezoid error, second order in dt).
    assert float((change - work).abs().max()) < 1e-5 * scale


# --------------------------------------------- 7. thermal equilibrium (Heun)
def test_equipartition_with_thermal_noise(set_a, generator):
    temperature = 300.0
    s = set_a.stiffness_fields()
    # A small volume so that <m_1^2> = 2e-3: a measurable but small-angle cone.
    volume = K_B * temperature / (MU0 * set_a.ms * s.h1 * 2e-3)
    p = set_a.replace(alpha=0.1, temperature=temperature, volume=volume)
    m0 = torch.as_tensor(s.m0, dtype=F64).expand(2000, 3).clone()
    t, traj = llgs.simulate(
        m0, 0.0, p, 2.5e-9, 1e-12, record_every=5, generator=generator
    )
    keep = t > 0.8e-9  # 14 relaxation times of the soft mode
    for axis, h_stiff in ((s.e1, s.h1), (s.e2, s.h2)):
        x = traj[keep] @ torch.as_tensor(axis, dtype=F64)
        expected = K_B * temperature / (MU0 * p.ms * volume * h_stiff)
        assert float((x * x).mean()) == pytest.approx(expected, rel=0.05)  # meas. <1%


def test_noise_is_reproducible_distinct_and_not_replayed(set_a):
    p = set_a.replace(temperature=300.0)
    m0 = torch.as_tensor(set_a.equilibrium(), dtype=F64).expand(2, 3, 3).clone()

    def run(gen):
        return llgs.simulate(m0, 0.0, p, 2e-11, 1e-12, generator=gen)[1]

    first = run(torch.Generator().manual_seed(42))
    again = run(torch.Generator().manual_seed(42))
    assert torch.equal(first, again)
    # Six identical neurons (2 batch samples x 3 neurons) all get their own noise.
    final = first[-1].reshape(6, 3)
    distance = torch.cdist(final, final) + torch.eye(6, dtype=F64)
    assert float(distance.min()) > 1e-6
    # Continuing the same generator (as after a reset) draws fresh noise.
    gen = torch.Generator().manual_seed(42)
    a, b = run(gen), run(gen)
    assert torch.equal(a, first)
    assert float((a - b).abs().max()) > 1e-6


def test_noise_needs_heun(set_a):
    p = set_a.replace(temperature=300.0)
    with pytest.raises(ValueError, match="method = 'rk4' with temperature > 0"):
        llgs.simulate(torch.tensor([1.0, 0.0, 0.0]), 0.0, p, 1e-11, method="rk4")


# --------------------------------------------- 9. easy-plane phase-slip spike rate
def test_easy_plane_spike_rate_overdamped():
    # mu0 Meff = 1 T, mu0 H_K = 2 mT, alpha = 0.3: beta_c = 0.02, overdamped.
    p = presets.EASY_PLANE.replace(alpha=0.3)
    h_c = p.threshold_field()
    ratios = torch.tensor([1.5, 2.0, 3.0, 5.0], dtype=F64)
    j = ratios * h_c / p.h_dl_per_j()
    m0 = torch.as_tensor(p.equilibrium(), dtype=F64).expand(4, 3).clone()
    t, traj = llgs.simulate(m0, j, p, 25e-9, 4e-12, record_every=5)
    phase = torch.from_numpy(
        np.unwrap(torch.atan2(traj[..., 1], traj[..., 0]).numpy(), axis=0)
    )
    keep = t > 4e-9  # past the onset transient
    t, phase = t[keep], phase[keep]
    for i, ratio in enumerate(ratios.tolist()):
        # Each half turn of the in-plane phase is one spike; time them by linear
        # interpolation of the phase through multiples of pi.
        half_turns = torch.floor(phase[:, i] / math.pi)
        steps = torch.nonzero(half_turns[1:] != half_turns[:-1])[:, 0]
        times = []
        for k in steps.tolist():
            level = math.pi * float(torch.maximum(half_turns[k], half_turns[k + 1]))
            f = (level - phase[k, i]) / (phase[k + 1, i] - phase[k, i])
            times.append(float(t[k] + f * (t[k + 1] - t[k])))
        assert len(times) >= 4
        rate = (len(times) - 1) / (times[-1] - times[0])
        h_dl = ratio * h_c
        expected = p.gamma0 * math.sqrt(h_dl**2 - h_c**2) / (math.pi * p.alpha)
        assert rate == pytest.approx(expected, rel=0.03)  # measured: 2.5e-4


# ---------------------------------------------------------- convergence orders
@pytest.mark.parametrize(
    ("method", "dts", "order"),
    [("rk4", [0.5e-12, 1e-12, 2e-12], 4.0), ("heun", [0.25e-12, 0.5e-12, 1e-12], 2.0)],
)
def test_convergence_order(set_a, method, dts, order):
    j = 1.5 * set_a.threshold_current_density()
    m0 = _unit(torch.tensor([0.8, 0.5, 0.2], dtype=F64))
    t_end = 0.4e-9
    _, ref = llgs.simulate(
        m0, j, set_a, t_end, 0.1e-12, method="rk4", record_every=4000
    )
    errors = []
    for dt in dts:
        n = int(round(t_end / dt))
        _, traj = llgs.simulate(m0, j, set_a, t_end, dt, method=method, record_every=n)
        errors.append(float(torch.linalg.vector_norm(traj[-1] - ref[-1])))
    slope = np.polyfit(np.log(dts), np.log(errors), 1)[0]
    assert slope == pytest.approx(order, abs=0.3)  # measured: 3.92 and 1.96


# -------------------------------------------------------------------- gradients
def test_gradcheck_rk4_substeps_wrt_current(set_a):
    j_c = set_a.threshold_current_density()
    c = llgs.coefficients(set_a, F64)
    m0 = _unit(torch.tensor([[0.9, 0.3, 0.1], [0.7, -0.6, 0.2]], dtype=F64))

    def substeps(x):  # x: current in units of j_c, shape (2,)
        m = m0
        h_dl = c.a_dl * (x * j_c).unsqueeze(-1)
        for _ in range(4):
            m = llgs.step(m, h_dl, c, 1e-12, "rk4")
        return m

    x = torch.tensor([1.5, -0.7], dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(substeps, (x,), eps=1e-6, atol=1e-8)


def test_gradcheck_wrt_per_neuron_damping(set_a):
    m0 = _unit(torch.tensor([[0.9, 0.3, 0.1], [0.7, -0.6, 0.2]], dtype=F64))
    j = 2 * set_a.threshold_current_density()

    def run(a):  # a: damping in units of 0.02, shape (2,)
        p = set_a.replace(alpha=0.02 * a)
        return llgs.simulate(m0, j, p, 5e-12, 1e-12, method="rk4")[1][-1]

    a = torch.tensor([1.0, 2.0], dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(run, (a,), eps=1e-6, atol=1e-8)


# --------------------------------------------------- dtypes, shapes, broadcasting
@pytest.mark.parametrize("shape", [(4, 5), (3, 4, 5)], ids=["BN", "TBN"])
def test_llgs_rhs_broadcasts_over_leading_dimensions(set_a, dtype, shape, tol):
    gen = torch.Generator().manual_seed(3)
    m = _unit(torch.randn(*shape, 3, generator=gen, dtype=dtype))
    j = torch.randn(*shape, generator=gen, dtype=dtype) * 1e12
    out = llgs.llgs_rhs(m, j, set_a)
    assert out.shape == (*shape, 3) and out.dtype == dtype
    flat = torch.stack(
        [
            llgs.llgs_rhs(mi, ji, set_a)
            for mi, ji in zip(m.reshape(-1, 3), j.reshape(-1), strict=True)
        ]
    )
    scale = float(out.abs().max())
    assert torch.allclose(
        out.reshape(-1, 3), flat, rtol=0, atol=tol(dtype, "rhs") * scale
    )
    # A float current broadcasts to every neuron.
    out_scalar = llgs.llgs_rhs(m, 1e12, set_a)
    same = llgs.llgs_rhs(m, torch.full(shape, 1e12, dtype=dtype), set_a)
    assert torch.equal(out_scalar, same)


def test_per_neuron_parameters_broadcast(set_a, dtype, tol):
    n = 3
    alpha = torch.tensor([0.01, 0.02, 0.05], dtype=F64)
    theta = torch.tensor([0.05, 0.08, 0.12], dtype=F64)
    p = set_a.replace(alpha=alpha, theta_sh=theta)
    gen = torch.Generator().manual_seed(5)
    m = _unit(torch.randn(2, n, 3, generator=gen, dtype=dtype))
    j = torch.full((2, n), 2e12, dtype=dtype)
    out = llgs.llgs_rhs(m, j, p)
    _, traj = llgs.simulate(m, j, p, 2e-11, 1e-12, record_every=20)
    assert traj.shape == (2, 2, n, 3) and traj.dtype == dtype
    for k in range(n):
        pk = set_a.replace(alpha=float(alpha[k]), theta_sh=float(theta[k]))
        ref = llgs.llgs_rhs(m[:, k], j[:, k], pk)
        scale = float(ref.abs().max())
        assert torch.allclose(out[:, k], ref, rtol=0, atol=tol(dtype, "rhs") * scale)
        _, ref_traj = llgs.simulate(m[:, k], j[:, k], pk, 2e-11, 1e-12, record_every=20)
        assert torch.allclose(traj[:, :, k], ref_traj, rtol=0, atol=tol(dtype, "same"))


@pytest.mark.parametrize("shape", [(2, 3), (4, 2, 3)], ids=["BN", "TBN"])
def test_simulate_shapes_and_time_dependent_current(set_a, dtype, shape):
    m0 = torch.as_tensor(set_a.equilibrium(), dtype=dtype).expand(*shape, 3).clone()
    j_c = set_a.threshold_current_density()
    t, traj = llgs.simulate(m0, 2 * j_c, set_a, 1e-11, 1e-12, record_every=5)
    assert t.shape == (3,) and traj.shape == (3, *shape, 3) and traj.dtype == dtype
    assert torch.allclose(t, torch.tensor([0.0, 5e-12, 1e-11], dtype=dtype))

    # A callable current sampled at each step start equals the constant when constant.
    def drive(time):
        return torch.full(shape, 2 * j_c, dtype=dtype)

    _, traj_fn = llgs.simulate(m0, drive, set_a, 1e-11, 1e-12, record_every=5)
    assert torch.equal(traj, traj_fn)

    # One start direction for four neurons with their own currents: every recorded
    # state, t = 0 included, has the broadcast shape.
    j = torch.tensor([0.0, 1.0, 2.0, 3.0], dtype=dtype) * j_c
    start = m0.reshape(-1, 3)[0]
    _, traj = llgs.simulate(start, j, set_a, 1e-11, 1e-12, record_every=5)
    assert traj.shape == (3, 4, 3)
    assert torch.equal(traj[0], start.expand(4, 3))


def test_simulate_rejects_bad_arguments(set_a):
    m0 = torch.tensor([1.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="t_end > 0 and dt > 0"):
        llgs.simulate(m0, 0.0, set_a, -1e-9)
    with pytest.raises(ValueError, match="record_every = 0"):
        llgs.simulate(m0, 0.0, set_a, 1e-9, record_every=0)
    with pytest.raises(ValueError, match="method = 'midpoint'"):
        llgs.simulate(m0, 0.0, set_a, 1e-9, method="midpoint")
