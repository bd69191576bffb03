"""The hybrid classifier: current mapping, SHNO block on both frameworks, builder."""

from __future__ import annotations

import math

import pytest
import torch
from norse.torch import SequentialState
from shno_neurons.adapters import models
from shno_neurons.adapters.models import (
    BlockOutput,
    CurrentMapping,
    ModelConfig,
    build_model,
    register_block,
    time_weights,
)
from torch import nn

from shno_neurons import functional, presets

# A fast SHNO layer for tests: 8 neurons, 6 steps of 0.1 ns, 5 ps substeps.
SMALL = dict(n_neurons=8, steps=6, dt_sub=5e-12, hidden=(16, 12), head_hidden=8)


def _features(b: int = 5, n: int = 8, seed: int = 0) -> torch.Tensor:
    return torch.randn(b, n, generator=torch.Generator().manual_seed(seed))


# ---------------------------------------------------------------- current mapping
def test_mapping_is_threshold_units_with_drive_sign_and_clamp():
    j_c = presets.NIFE_PT.threshold_current_density()
    assert j_c == pytest.approx(1.051e12, rel=1e-3)
    mapping = CurrentMapping(3, j_c, drive_sign=-1.0, scale_init=2.0, bias_init=1.0)
    x = torch.tensor([[0.0, 1.0, -0.5]])
    j = mapping(x)
    expected = -j_c * (2.0 * x + 1.0)
    torch.testing.assert_close(j, expected.float(), rtol=1e-6, atol=0.0)
    # Clamped to the device limit.
    big = mapping(torch.tensor([[10.0, -10.0, -3.0]]))
    assert big[0, 0].item() == pytest.approx(-models.J_MAX_DEFAULT, rel=1e-7)
    assert big[0, 1].item() == pytest.approx(models.J_MAX_DEFAULT, rel=1e-7)
    assert big[0, 2].item() == pytest.approx(-j_c * (-6.0 + 1.0), rel=1e-6)
    assert (big.abs() <= models.J_MAX_DEFAULT).all()


def test_mapping_modulation_follows_its_formula():
    mapping = CurrentMapping(
        2,
        1e12,
        dt=1e-10,
        scale_init=0.0,
        bias_init=3.0,
        modulation=(0.2, 0.5e9, 0.1, 4e9),
    )
    for t in (0, 3, 7):
        g = (
            1
            + 0.2 * math.sin(2 * math.pi * 0.5e9 * t * 1e-10)
            + 0.1 * math.sin(2 * math.pi * 4e9 * t * 1e-10)
        )
        assert mapping.gain(t) == pytest.approx(g, rel=1e-12)
        j = mapping(torch.zeros(1, 2), t)
        torch.testing.assert_close(j, torch.full((1, 2), 3e12 * g), rtol=1e-6, atol=0)


def test_mapping_learnable_flags():
    m = CurrentMapping(4, 1e12, learn_scale=True, learn_bias=False)
    names = {n for n, _ in m.named_parameters()}
    assert names == {"scale"}
    assert "bias" in dict(m.named_buffers())


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"framework": "jax"}, "framework"),
        ({"mod_fast_amp": 0.1, "mod_fast_freq": 6e9}, "Nyquist"),
        ({"spread_ms": 0.6}, "spread_ms"),
        ({"j_max": -1.0}, "j_max"),
        ({"preset": "nope"}, "preset"),
        ({"steps": 0}, "steps"),
    ],
)
def test_config_validation(changes, match):
    with pytest.raises(ValueError, match=match):
        ModelConfig(**changes)


def test_time_weights_ramp_favours_late_steps():
    w = time_weights(4)
    torch.testing.assert_close(w, torch.tensor([0.25, 0.5, 0.75, 1.0]))


# --------------------------------------------------------------------- SHNO block
def _reference(block, features):
    """The block's physics written out with the functional step."""
    p = block.p
    nrn = block.neuron_params
    m_rest = block.m_rest.to(features.dtype)
    state = functional.initial_state(features.shape, p, features.dtype, m_rest=m_rest)
    spikes, trace = [], []
    for t in range(block.steps):
        s, state = functional.shno_step(
            block.mapping(features, t), state, p, block.dt, nrn, m_rest=m_rest
        )
        spikes.append(s)
        trace.append(functional.readout(state.m, p))
    return torch.stack(spikes), torch.stack(trace)


@pytest.mark.parametrize("framework", ["snntorch", "norse"])
def test_block_uses_framework_containers_and_matches_functional(framework):
    from shno_neurons.norse import SHNOCell
    from shno_neurons.snntorch import SHNO

    cfg = ModelConfig(framework=framework, **SMALL)
    block = models.BLOCKS["shno"](cfg)
    if framework == "snntorch":
        assert isinstance(block.spiking, nn.Sequential)
        assert isinstance(block.spiking[0], SHNO) and block.spiking[0].init_hidden
    else:
        assert isinstance(block.spiking, SequentialState)
        assert isinstance(block.spiking[0], SHNOCell)
    x = _features()
    out = block(x)
    assert isinstance(out, BlockOutput)
    assert out.spikes.shape == out.trace.shape == (6, 5, 8)
    ref_s, ref_r = _reference(block, x)
    torch.testing.assert_close(out.spikes, ref_s)
    torch.testing.assert_close(out.trace, ref_r)
    # It really spikes at the default drive (3 +- 1.5 j_c), and only 0/1 values.
    assert set(out.spikes.unique().tolist()) <= {0.0, 1.0}
    assert out.spikes.sum() > 0
    # A second call with another batch size starts from rest again.
    out2 = block(x[:2])
    torch.testing.assert_close(out2.spikes, out.spikes[:, :2])


def test_frameworks_give_identical_models():
    torch.manual_seed(3)
    a = build_model(ModelConfig(framework="snntorch", **SMALL)).eval()
    torch.manual_seed(3)
    b = build_model(ModelConfig(framework="norse", **SMALL)).eval()
    x = torch.rand(4, 1, 28, 28)
    oa, ob = a(x), b(x)
    torch.testing.assert_close(oa.logits, ob.logits)
    torch.testing.assert_close(oa.spikes, ob.spikes)


def test_gradient_reaches_encoder_through_spikes_only():
    torch.manual_seed(0)
    model = build_model(ModelConfig(**SMALL))
    out = model(torch.rand(6, 1, 28, 28))
    nn.functional.cross_entropy(out.logits, torch.arange(6) % 4).backward()
    first = model.encoder[1].weight.grad
    assert first is not None and float(first.abs().sum()) > 0
    assert model.block.mapping.scale.grad.abs().sum() > 0
    assert model.aux_head.weight.grad is None


def test_device_spread_is_drawn_once_from_the_seed():
    cfg = ModelConfig(spread_ms=0.05, spread_alpha=0.1, device_seed=7, **SMALL)
    b1 = models.BLOCKS["shno"](cfg)
    b2 = models.BLOCKS["shno"](cfg)
    ms = b1.p.ms
    assert ms.shape == (8,) and ms.std() > 0
    torch.testing.assert_close(ms, b2.p.ms)
    assert float((ms / presets.NIFE_PT.ms - 1).abs().max()) < 0.3
    other = models.BLOCKS["shno"](ModelConfig(spread_ms=0.05, device_seed=8, **SMALL))
    assert not torch.equal(ms, other.p.ms)
    # The spread reaches the neurons: identical inputs, different spike trains.
    x = torch.zeros(1, 8)
    out = b1(x)
    assert out.trace[-1, 0].unique().numel() > 1


def test_a_preset_without_closed_form_threshold_is_refused():
    with pytest.raises(ValueError, match="no closed-form threshold"):
        ModelConfig(preset="cofeb_pt_inplane")


def test_spread_of_a_zero_field_warns():
    with pytest.warns(UserWarning, match=r"\['h_k'\] has no effect"):
        models.device_parameters(ModelConfig(spread_h_k=0.1, **SMALL))


def test_thermal_noise_changes_with_the_global_seed():
    cfg = ModelConfig(temperature=300.0, **SMALL)
    block = models.BLOCKS["shno"](cfg)
    x = torch.zeros(2, 8)
    torch.manual_seed(0)
    a = block(x).trace
    torch.manual_seed(0)
    a2 = block(x).trace
    torch.manual_seed(1)
    b = block(x).trace
    torch.testing.assert_close(a, a2)
    assert not torch.equal(a, b)


# ------------------------------------------------------------------------ builder
@pytest.mark.parametrize("kind", ["shno", "relu"])
def test_build_model_shapes(kind):
    model = build_model(ModelConfig(block=kind, n_classes=3, **SMALL))
    out = model(torch.rand(5, 1, 28, 28))
    assert out.logits.shape == out.aux_logits.shape == (5, 3)
    assert out.spikes.shape == out.trace.shape == (6, 5, 8)
    assert model.block.n == 8 and model.block.steps == 6
    widths = [m.out_features for m in model.encoder if isinstance(m, nn.Linear)]
    assert widths == [16, 12, 8]
    assert isinstance(model.encoder[-1], nn.BatchNorm1d)


def test_default_architecture_matches_the_specification():
    model = build_model(ModelConfig(backend="eager"))
    linear = [
        (m.in_features, m.out_features)
        for m in model.modules()
        if isinstance(m, nn.Linear)
    ]
    assert linear == [(784, 256), (256, 128), (128, 60), (60, 60), (60, 4), (60, 4)]
    assert model.block.steps == 15 and model.block.n == 60


def test_relu_ablation_counts_are_weighted_relu():
    model = build_model(ModelConfig(block="relu", **SMALL)).eval()
    x = torch.rand(3, 1, 28, 28)
    feats = model.encoder(x)
    out = model(x)
    counts = torch.relu(feats) * time_weights(6).sum()
    torch.testing.assert_close(out.logits, model.head(counts))


def test_registry_is_open_and_reports_unknown_names():
    class Constant(nn.Module):
        def __init__(self, n, steps):
            super().__init__()
            self.n, self.steps = n, steps

        def forward(self, f):
            s = torch.ones(self.steps, *f.shape)
            return BlockOutput(s, s)

    register_block("ones_for_test", lambda c: Constant(c.n_neurons, c.steps))
    try:
        model = build_model(ModelConfig(block="ones_for_test", **SMALL))
        assert model(torch.rand(2, 1, 28, 28)).spikes.sum() == 6 * 2 * 8
    finally:
        models.BLOCKS.pop("ones_for_test")
    with pytest.raises(ValueError, match="register a new kind"):
        build_model(ModelConfig(block="no_such_block", **SMALL))


def test_baseline_blocks_are_found_by_name():
    model = build_model(ModelConfig(block="leaky", **SMALL))
    out = model(torch.rand(2, 1, 28, 28))
    assert out.spikes.shape == (6, 2, 8)
