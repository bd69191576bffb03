"""The current sweep and threshold extraction: contracts and bad input.

The physics of the sweep (Kittel frequency, decay rate, threshold) is checked in
``test_llgs.py``; here: shapes, dtypes, the analysis on synthetic data, and errors.
"""

from __future__ import annotations

import math

import pytest
import torch

from shno_neurons import characterise
from shno_neurons.characterise import Sweep, extract_threshold, sweep_current


def test_public_names():
    assert set(characterise.__all__) == {"Sweep", "sweep_current", "extract_threshold"}


def test_sweep_shapes_dtype_and_one_batched_simulation(set_a, monkeypatch):
    calls = []
    original = characterise.llgs.simulate

    def counting(m0, j, *args, **kwargs):
        calls.append((tuple(m0.shape), tuple(torch.as_tensor(j).shape)))
        return original(m0, j, *args, **kwargs)

    monkeypatch.setattr(characterise.llgs, "simulate", counting)
    j_c = set_a.threshold_current_density()
    sweep = sweep_current(
        set_a, [0.5 * j_c, 2.0 * j_c], t_end=6e-10, dtype=torch.float32
    )
    assert calls == [((2, 3), (2,))]  # all currents in one batched call
    for field in sweep:
        assert field.shape == (2,) and field.dtype == torch.float32
    # The final 0.3 ns hold 2.4 precession periods of 123 ps.
    assert torch.isfinite(sweep.frequency).all()
    assert float(sweep.frequency[0]) == pytest.approx(8.12e9, rel=0.02)


def test_frequency_is_nan_without_two_crossings(set_a):
    sweep = sweep_current(set_a, [0.0], t_end=1e-10, window=5e-11)
    assert math.isnan(float(sweep.frequency[0]))
    assert math.isfinite(float(sweep.amplitude[0]))


def _synthetic(j, rate):
    j = torch.tensor(j, dtype=torch.float64)
    nan = torch.full_like(j, math.nan)
    return Sweep(j=j, frequency=nan, amplitude=nan, growth_rate=torch.tensor(rate))


def test_extract_threshold_on_a_known_line():
    # rate = 2 (j - 3) sampled unsorted, with a NaN that must be ignored.
    j = [5.0, 1.0, 2.0, 4.0, 2.5, 6.0]
    rate = [4.0, -4.0, -2.0, 2.0, math.nan, 6.0]
    assert extract_threshold(_synthetic(j, rate)) == pytest.approx(3.0, rel=1e-12)
    assert extract_threshold(_synthetic(j, rate), n_fit=2) == pytest.approx(3.0)


def test_extract_threshold_errors():
    with pytest.raises(ValueError, match="does not change sign"):
        extract_threshold(_synthetic([1.0, 2.0, 3.0], [-3.0, -2.0, -1.0]))
    with pytest.raises(ValueError, match="only 1 of 3 growth rates are finite"):
        extract_threshold(_synthetic([1.0, 2.0, 3.0], [-3.0, math.nan, math.nan]))
    with pytest.raises(ValueError, match="n_fit = 1"):
        extract_threshold(_synthetic([1.0, 2.0], [-1.0, 1.0]), n_fit=1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"j_values": []}, "non-empty 1-D"),
        ({"j_values": [[1.0, 2.0]]}, "non-empty 1-D"),
        ({"j_values": [1.0, math.nan]}, "1 non-finite entries"),
        ({"t_end": -1e-9}, r"t_end = -1e-09 must lie in \(0, inf\)"),
        ({"dt": 0.0}, r"dt = 0.0 must lie in"),
        ({"dt": 2e-9, "t_end": 1e-9}, "must be smaller than t_end"),
        ({"tilt": 0.7}, r"tilt = 0.7 must lie in \(0, 0.5\]"),
        ({"window": 2e-9, "t_end": 1e-9}, "window = 2e-09"),
        ({"growth_window": -1.0}, "growth_window = -1.0"),
        ({"max_growth_angle": 0.01}, "max_growth_angle = 0.01"),
        ({"record_every": 0}, "record_every = 0"),
    ],
)
def test_sweep_rejects_bad_input(set_a, kwargs, message):
    args = {"j_values": [0.0], "t_end": 1e-10}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        sweep_current(set_a, **args)


def test_sweep_rejects_per_neuron_parameters(set_a):
    p = set_a.replace(alpha=torch.full((3,), 0.02, dtype=torch.float64))
    with pytest.raises(
        ValueError, match=r"SHNOParameters\.alpha holds 3 values \(one per neuron\)"
    ):
        sweep_current(p, [0.0], t_end=1e-10)
