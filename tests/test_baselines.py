"""LIF baselines: a swap keeps the architecture; each block is its framework's LIF.

The membrane traces are checked step by step against the frameworks' documented update
equations, and the rheobase (the drive unit of the baselines) against its closed form:
just below it a neuron never fires, just above it it does.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
from norse.torch import LIFParameters
from shno_neurons.adapters import baselines
from shno_neurons.adapters.models import BLOCKS, ModelConfig, build_model

KINDS = ["shno", "leaky", "lif", "relu"]


def _small(**kw) -> ModelConfig:
    base = {"hidden": (32, 16), "n_neurons": 6, "head_hidden": 8, "steps": 4}
    return ModelConfig(**{**base, **kw})


def _outside_block(model: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {
        name: tuple(p.shape)
        for name, p in model.named_parameters()
        if not name.startswith("block.")
    }


def test_swap_leaves_the_rest_of_the_architecture_identical():
    models = {k: build_model(_small(block=k)) for k in KINDS}
    shapes = {k: _outside_block(m) for k, m in models.items()}
    counts = {
        k: sum(torch.Size(s).numel() for s in v.values()) for k, v in shapes.items()
    }
    assert len(set(counts.values())) == 1, counts
    for k in KINDS[1:]:
        assert shapes[k] == shapes["shno"]
    # The spiking layers themselves: scale and bias per neuron, none for ReLU.
    n = 6
    block = {k: sum(p.numel() for p in m.block.parameters()) for k, m in models.items()}
    assert block == {"shno": 2 * n, "leaky": 2 * n, "lif": 2 * n, "relu": 0}
    assert type(models["leaky"].block) is baselines.LeakyBlock
    assert type(models["lif"].block) is baselines.LIFCellBlock


def test_blocks_are_registered_by_name():
    assert BLOCKS["leaky"] is baselines._leaky_block
    assert BLOCKS["lif"] is baselines._lif_block


def test_leaky_block_follows_snntorch_update():
    config = _small(block="leaky", lif_beta=0.95, steps=12)
    block = BLOCKS["leaky"](config)
    x = torch.randn(3, 6, generator=torch.Generator().manual_seed(0))
    out = block(x)
    assert out.spikes.shape == out.trace.shape == (12, 3, 6)
    rheobase = 0.05  # (1 - beta) * threshold
    drive = rheobase * (1.5 * x + 3.0)
    u = torch.zeros_like(x)
    for t in range(12):
        # snnTorch Leaky, subtractive reset from the previous step's membrane.
        fired_before = (u > 1.0).float()
        u = 0.95 * u + drive - fired_before * 1.0
        torch.testing.assert_close(out.trace[t], u, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(out.spikes[t], (u > 1.0).float())


def test_lif_block_follows_norse_update():
    config = _small(block="lif", steps=12)
    block = BLOCKS["lif"](config)
    x = torch.randn(3, 6, generator=torch.Generator().manual_seed(1))
    out = block(x)
    p = LIFParameters()
    dt = baselines.NORSE_DT
    rheobase = float(p.v_th * dt * p.tau_syn_inv)
    assert rheobase == pytest.approx(0.2)
    drive = rheobase * (1.5 * x + 3.0)
    v = torch.zeros_like(x)
    i = torch.zeros_like(x)
    for t in range(12):
        i = i + drive
        v = v + dt * float(p.tau_mem_inv) * (-v + i)
        i = i * (1 - dt * float(p.tau_syn_inv))
        z = (v > 1.0).float()
        v = (1 - z) * v
        torch.testing.assert_close(out.spikes[t], z)
        torch.testing.assert_close(out.trace[t], v, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["leaky", "lif"])
def test_rheobase_is_the_firing_threshold(kind):
    # No encoder: drive the block straight with its bias, in units of the rheobase.
    config = _small(block=kind, lif_beta=0.95, steps=400, scale_init=0.0)
    rates = []
    for bias in (0.97, 1.03):
        block = BLOCKS[kind](dataclasses.replace(config, bias_init=bias))
        with torch.no_grad():
            rates.append(float(block(torch.zeros(1, 6)).spikes.sum()))
    assert rates[0] == 0.0
    assert rates[1] > 0.0


def test_surrogate_gradient_reaches_the_mapping_and_encoder():
    for kind in ("leaky", "lif"):
        model = build_model(_small(block=kind, steps=8))
        out = model(torch.rand(4, 1, 28, 28))
        (out.logits.sum() + out.aux_logits.sum()).backward()
        assert model.block.mapping.scale.grad.abs().sum() > 0
        assert model.encoder[1].weight.grad.abs().sum() > 0


def test_bad_lif_parameters_raise():
    with pytest.raises(ValueError, match="lif_beta = 1.5"):
        BLOCKS["leaky"](_small(block="leaky", lif_beta=1.5))
    with pytest.raises(ValueError, match="lif_threshold = -1"):
        BLOCKS["lif"](_small(block="lif", lif_threshold=-1.0))


def test_rheobase_closed_forms():
    assert baselines.leaky_rheobase(0.9, 2.0) == pytest.approx(0.2)
    p = LIFParameters(v_th=torch.as_tensor(2.0), v_leak=torch.as_tensor(0.5))
    assert baselines.lif_rheobase(p, 1e-3) == pytest.approx(1.5 * 1e-3 * 200)
