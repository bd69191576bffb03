"""SHNOParameters: validation of every field, and the presets' published numbers."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from shno_neurons import llgs, presets
from shno_neurons.constants import GAMMA0, GAMMA_E, K_B, MU0, TWO_PI
from shno_neurons.parameters import SHNOParameters, with_device_spread

# ----------------------------------------------------------------- validation
# (field, bad value, accepted range as the message prints it)
SCALAR_CASES = [
    ("ms", 10.0, "[1000, 1e+07]"),
    ("ms", float("nan"), "[1000, 1e+07]"),
    ("alpha", -0.01, "[0, 1]"),
    ("alpha", 1.5, "[0, 1]"),
    ("t_fm", 0.0, "[1e-11, 1e-06]"),
    ("theta_sh", 2.0, "[-1, 1]"),
    ("beta_fl", 11.0, "[-10, 10]"),
    ("h_k", -1.0, "[0, 1e+08]"),
    ("temperature", -5.0, "[0, 2000]"),
    ("temperature", float("inf"), "[0, 2000]"),
    ("volume", 1e-10, "[1e-30, 1e-15]"),
    ("gamma0", 1.0, "[10000, 1e+07]"),
]


@pytest.mark.parametrize(("name", "value", "bounds"), SCALAR_CASES)
def test_scalar_field_out_of_range_names_field_value_and_range(name, value, bounds):
    with pytest.raises(ValueError) as info:
        SHNOParameters(**{name: value})
    message = str(info.value)
    assert f"SHNOParameters.{name} = {value!r}" in message
    assert bounds in message


def test_tensor_field_out_of_range_names_field_and_extremes():
    alpha = torch.tensor([0.02, -0.5, 0.03])
    with pytest.raises(
        ValueError, match=r"SHNOParameters\.alpha = tensor with min -0\.5"
    ):
        SHNOParameters(alpha=alpha)


def test_non_number_field_raises_type_error():
    with pytest.raises(TypeError, match=r"SHNOParameters\.ms must be a float"):
        SHNOParameters(ms="large")


VECTOR_CASES = [
    ("h_ext", (1.0, float("nan"), 0.0), "three finite numbers"),
    ("h_ext", (1.0, 2.0), "three finite numbers"),
    ("easy_axis", (0.0, 0.0, 0.0), "non-zero direction"),
    ("sigma", (0.0, 0.0, 0.0), "non-zero direction"),
    ("readout_axis", (0.0, 0.0, 0.0), "non-zero direction"),
    ("demag", (0.0, 0.0, 1.5), "each factor must lie in [-1, 1]"),
]


@pytest.mark.parametrize(("name", "value", "reason"), VECTOR_CASES)
def test_vector_field_invalid_names_field_value_and_rule(name, value, reason):
    with pytest.raises(ValueError) as info:
        SHNOParameters(**{name: value})
    message = str(info.value)
    assert f"SHNOParameters.{name} = {value!r}" in message
    assert reason in message


def test_tensor_vector_field_wrong_shape_and_non_finite():
    with pytest.raises(ValueError, match=r"SHNOParameters\.sigma must have a last"):
        SHNOParameters(sigma=torch.ones(4))
    with pytest.raises(ValueError, match=r"SHNOParameters\.h_ext has non-finite"):
        SHNOParameters(h_ext=torch.tensor([1.0, math.inf, 0.0]))


def test_readout_kind_is_checked():
    with pytest.raises(ValueError, match=r"SHNOParameters\.readout = 'cubic'"):
        SHNOParameters(readout="cubic")


def test_directions_are_normalised_and_replace_revalidates(set_a):
    p = set_a.replace(sigma=(0.0, -3.0, 4.0))
    assert np.allclose(p.sigma, (0.0, -0.6, 0.8), atol=1e-15)
    with pytest.raises(ValueError, match=r"SHNOParameters\.alpha = 3\.0"):
        p.replace(alpha=3.0)


def test_closed_forms_need_nominal_parameters(set_a):
    p = set_a.replace(alpha=torch.full((4,), 0.02, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"SHNOParameters\.alpha holds 4 values"):
        p.decay_rate()


# --------------------------------------------------------------- presets (Set A)
def test_set_a_recovers_published_numbers(set_a):
    assert set_a.kittel_frequency() == pytest.approx(8.1224e9, rel=2e-5)
    assert set_a.h_dl_per_j() == pytest.approx(7.1158e-9, rel=2e-5)
    assert set_a.threshold_field() == pytest.approx(7480.0, rel=1e-3)
    assert set_a.threshold_current_density() == pytest.approx(1.051e12, rel=1e-3)
    assert set_a.decay_rate() == pytest.approx(1.6545e9, rel=1e-4)
    assert set_a.drive_sign() == 1.0
    larmor = set_a.replace(demag=(0.0, 0.0, 0.0)).kittel_frequency()
    assert larmor == pytest.approx(2.8025e9, rel=2e-5)
    assert larmor == pytest.approx(GAMMA_E * 0.1 / TWO_PI, rel=1e-12)


def test_set_a_stiffness_fields_are_h_and_h_plus_meff(set_a):
    s = set_a.stiffness_fields()
    h = 0.1 / MU0
    assert np.allclose(s.m0, (1.0, 0.0, 0.0), atol=1e-9)
    assert s.h1 == pytest.approx(h, rel=1e-9)
    assert s.h2 == pytest.approx(h + 0.74 / MU0, rel=1e-9)
    assert abs(float(s.e1 @ s.m0)) < 1e-9 and abs(float(s.e2 @ s.m0)) < 1e-9
    assert abs(float(s.e2[2])) == pytest.approx(1.0, abs=1e-9)


# ------------------------------------------------------------ presets (B, D, ...)
def test_set_b_recovers_published_numbers():
    p = presets.W_COFEB_PMA
    m0 = p.equilibrium()
    elevation = math.degrees(math.asin(m0[2]))
    assert elevation == pytest.approx(57.0, abs=1.0)
    assert p.kittel_frequency() == pytest.approx(11.7e9, rel=0.01)
    assert p.threshold_current_density() == pytest.approx(1.5e11, rel=0.05)
    # theta_SH < 0: the effective polarization is -y, antiparallel to the field's
    # in-plane part, so positive currents drive it.
    assert p.drive_sign() == 1.0


def test_easy_plane_threshold_is_half_the_anisotropy_field():
    p = presets.EASY_PLANE
    h_k = 2e-3 / MU0
    assert p.threshold_field() == pytest.approx(h_k / 2, rel=1e-9)
    # Independent of alpha (a pendulum's depinning, not an antidamping balance).
    assert p.replace(alpha=0.3).threshold_field() == pytest.approx(h_k / 2, rel=1e-9)
    assert p.threshold_current_density() == pytest.approx(
        h_k / 2 / p.h_dl_per_j(), rel=1e-12
    )
    assert p.readout == "quadratic"


def test_notebook_preset_has_no_closed_form_threshold():
    with pytest.raises(ValueError, match="sweep_current"):
        presets.COFEB_PT_INPLANE.threshold_field()


def test_presets_registry_and_brown_field_formula():
    assert set(presets.PRESETS) == {
        "nife_pt",
        "cofeb_pt_inplane",
        "w_cofeb_pma",
        "easy_plane",
    }
    p = presets.NIFE_PT.replace(temperature=300.0)
    dt = 1e-12
    expected = math.sqrt(2 * 0.02 * K_B * 300.0 / (GAMMA0 * MU0 * p.ms * p.volume * dt))
    assert p.brown_field_std(dt) == pytest.approx(expected, rel=1e-12)


# ---------------------------------------------------------------- device spread
def test_device_spread_is_reproducible_and_validated(set_a):
    a = with_device_spread(set_a, 5, {"alpha": 0.1}, torch.Generator().manual_seed(3))
    b = with_device_spread(set_a, 5, {"alpha": 0.1}, torch.Generator().manual_seed(3))
    assert a.alpha.shape == (5,)
    assert torch.equal(a.alpha, b.alpha)
    assert float(a.alpha.std()) > 0
    with pytest.raises(ValueError, match=re.escape("spread['h_ext']")):
        with_device_spread(set_a, 5, {"h_ext": 0.1})
    with pytest.raises(ValueError, match=re.escape("spread['alpha'] = 0.7")):
        with_device_spread(set_a, 5, {"alpha": 0.7})


def test_per_neuron_equilibrium_has_one_direction_per_neuron(set_a):
    h = torch.tensor([[0.1, 0.0, 0.0], [0.0, 0.1, 0.0], [0.06, 0.08, 0.0]]) / MU0
    p = set_a.replace(h_ext=h.double())
    m0 = llgs.equilibrium(p, torch.float64)
    assert m0.shape == (3, 3)
    expected = h.double() / torch.linalg.vector_norm(h.double(), dim=-1, keepdim=True)
    assert torch.allclose(m0, expected, atol=1e-9)
