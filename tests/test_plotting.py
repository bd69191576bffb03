"""Plot adapters: each draws what it was given on the axes it was given, and returns it.

Rasters are checked against the spike coordinates (snnTorch's scatter offsets, Norse's
image array), traces against their line data, for every accepted input shape, for
tensors with grad, and on CUDA when a GPU is present.
"""

from __future__ import annotations

from types import SimpleNamespace

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from shno_neurons.adapters import plotting

matplotlib.use("Agg")  # pyplot picks its backend on first use, so this suffices.

T, B, N = 12, 3, 5

DEVICES = [
    "cpu",
    pytest.param(
        "cuda",
        marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU"),
    ),
]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _spikes(shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g) < 0.3).to(torch.float32)


def _expected(spikes: torch.Tensor, sample: int) -> torch.Tensor:
    """The [T, N] matrix a raster of ``spikes`` should show."""
    if spikes.ndim == 1:
        return spikes[:, None]
    if spikes.ndim == 2:
        return spikes
    return spikes[:, sample].reshape(spikes.shape[0], -1)


SHAPES = [(T,), (T, N), (T, B, N), (T, B, 2, 3)]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("grad", [False, True])
def test_raster_snntorch_scatters_every_spike(shape, device, grad):
    spikes = _spikes(shape).to(device).requires_grad_(grad)
    fig, (ax, other) = plt.subplots(1, 2)
    out = plotting.raster_snntorch(spikes * 1.0, sample=1, ax=ax)
    assert out is ax
    expected = _expected(spikes.detach().cpu(), 1)
    points = np.concatenate([c.get_offsets() for c in ax.collections])
    want = torch.stack(torch.where(expected != 0), dim=1).numpy()
    np.testing.assert_array_equal(points, want)
    assert ax.get_xlabel() == "Time step"
    assert not other.collections and not other.images


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("grad", [False, True])
def test_raster_norse_draws_on_given_axes(shape, device, grad):
    spikes = _spikes(shape, seed=1).to(device).requires_grad_(grad)
    fig, (ax, other) = plt.subplots(1, 2)
    plt.sca(other)  # Norse alone would draw on the current axes: ours must not.
    out = plotting.raster_norse(spikes * 1.0, sample=2, ax=ax)
    assert out is ax
    assert len(ax.images) == 1 and not other.images
    np.testing.assert_array_equal(
        ax.images[0].get_array(), _expected(spikes.detach().cpu(), 2).T.numpy()
    )
    assert plt.gca() is other  # the caller's current axes is left as it was


def test_raster_dispatch_and_default_axes():
    spikes = _spikes((T, N))
    fig, ax = plt.subplots()
    assert plotting.raster(spikes, style="norse") is ax
    assert plotting.raster(spikes, style="snntorch") is ax
    with pytest.raises(ValueError, match="style"):
        plotting.raster(spikes, style="matlab")


def test_raster_rejects_bad_sample_and_scalar():
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="sample = 7"):
        plotting.raster_snntorch(_spikes((T, B, N)), sample=7, ax=ax)
    with pytest.raises(ValueError, match="scalar"):
        plotting.raster_norse(torch.tensor(1.0), ax=ax)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shape", [(T,), (T, N), (T, B, N)])
def test_plot_readout_traces_threshold_and_marks(shape, device):
    g = torch.Generator().manual_seed(2)
    trace = torch.rand(shape, generator=g).to(device).requires_grad_(True)
    spikes = (trace > 0.6).float()
    fig, ax = plt.subplots()
    out = plotting.plot_readout(
        trace * 1.0, threshold=0.6, spikes=spikes, dt=1e-10, sample=1, ax=ax
    )
    assert out is ax
    want = _expected(trace.detach().cpu(), 1)
    want_marks = _expected(spikes.cpu(), 1)
    lines = [ln for ln in ax.lines if ln.get_linestyle() == "-"]
    marks = [ln for ln in ax.lines if ln.get_marker() == "v"]
    assert len(lines) == want.shape[1] and len(marks) == want.shape[1]
    for i, (line, mark) in enumerate(zip(lines, marks, strict=True)):
        np.testing.assert_allclose(line.get_ydata(), want[:, i].numpy(), rtol=1e-6)
        np.testing.assert_allclose(line.get_xdata(), (np.arange(T) + 1) * 0.1)
        assert len(mark.get_xdata()) == int(want_marks[:, i].sum())
        np.testing.assert_allclose(mark.get_ydata(), 0.6)
    threshold_lines = [ln for ln in ax.lines if ln.get_linestyle() == "--"]
    assert len(threshold_lines) == 1
    np.testing.assert_allclose(threshold_lines[0].get_ydata(), 0.6)
    assert ax.get_xlabel() == "Time (ns)"


def test_plot_readout_times_and_neuron_selection():
    trace = torch.linspace(0, 1, T * N).reshape(T, N)
    t = torch.arange(T) * 2e-12
    fig, ax = plt.subplots()
    plotting.plot_readout(trace, threshold=0.5, t=t, neurons=[3], ax=ax)
    (line,) = [ln for ln in ax.lines if ln.get_linestyle() == "-"]
    np.testing.assert_allclose(line.get_xdata(), t.numpy() * 1e12, rtol=1e-6)
    assert ax.get_xlabel() == "Time (ps)"  # 22 ps span: the unit follows the scale
    np.testing.assert_allclose(line.get_ydata(), trace[:, 3].numpy(), rtol=1e-6)
    fig2, ax2 = plt.subplots()
    plotting.plot_readout(trace, threshold=0.5, dt=1e-3, ax=ax2)  # Norse's 1 ms step
    assert ax2.get_xlabel() == "Time (ms)"
    np.testing.assert_allclose(ax2.lines[0].get_xdata(), np.arange(1, T + 1))
    with pytest.raises(ValueError, match="neurons"):
        plotting.plot_readout(trace, threshold=0.5, neurons=[N], ax=ax)
    with pytest.raises(ValueError, match="not both"):
        plotting.plot_readout(trace, threshold=0.5, t=t, dt=1e-10, ax=ax)
    with pytest.raises(ValueError, match="must match"):
        plotting.plot_readout(trace, threshold=0.5, spikes=trace[:, :2], ax=ax)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(
    ("shape", "index"), [((T, 3), ()), ((T, N, 3), (2,)), ((T, B, N, 3), (1, 4))]
)
def test_plot_trajectory_on_unit_sphere(shape, index, device):
    g = torch.Generator().manual_seed(3)
    m = torch.randn(shape, generator=g)
    m = (m / m.norm(dim=-1, keepdim=True)).to(device).requires_grad_(True)
    fig = plt.figure()
    ax = fig.add_subplot(projection="3d")
    out = plotting.plot_trajectory(m * 1.0, index=index, ax=ax)
    assert out is ax
    path = m.detach().cpu()[(slice(None),) + index].numpy()
    line = ax.lines[-1]
    x, y, z = line.get_data_3d()
    np.testing.assert_allclose(np.stack([x, y, z], 1), path, rtol=1e-6)
    assert ax.get_xlim() == (-1.0, 1.0)


def test_plot_trajectory_needs_3d_axes_and_valid_index():
    m = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="3-D axes"):
        plotting.plot_trajectory(m, ax=ax)
    ax3 = fig.add_subplot(projection="3d")
    with pytest.raises(ValueError, match="more entries"):
        plotting.plot_trajectory(m, index=(0,), ax=ax3)
    with pytest.raises(ValueError, match=r"\[T, \.\.\., 3\]"):
        plotting.plot_trajectory(torch.zeros(4, 2), ax=ax3)


def test_plot_sweep_frequency_amplitude_threshold():
    j = torch.linspace(0.5e12, 3e12, 6)
    freq = torch.tensor([float("nan"), float("nan"), 7.9e9, 7.5e9, 7.1e9, 6.8e9])
    amp = torch.tensor([0.0, 0.0, 0.2, 0.4, 0.55, 0.6])
    sweep = SimpleNamespace(j=j, frequency=freq, amplitude=amp)
    fig, (ax, ax_amp) = plt.subplots(1, 2)
    out = plotting.plot_sweep(sweep, j_threshold=1.05e12, ax=ax, amplitude_ax=ax_amp)
    assert out is ax
    f_line = ax.lines[0]
    np.testing.assert_allclose(f_line.get_xdata(), j.numpy())
    np.testing.assert_allclose(
        f_line.get_ydata(), freq.numpy().astype(np.float64) * 1e-9, rtol=1e-6
    )
    np.testing.assert_allclose(ax_amp.lines[0].get_ydata(), amp.numpy(), rtol=1e-6)
    np.testing.assert_allclose(ax.lines[1].get_xdata(), 1.05e12)
    # Without an amplitude axes, a twin of ``ax`` is made in the same figure.
    fig2, ax2 = plt.subplots()
    assert plotting.plot_sweep(sweep, ax=ax2) is ax2
    assert len(fig2.axes) == 2
    with pytest.raises(TypeError, match="no field 'amplitude'"):
        plotting.plot_sweep(SimpleNamespace(j=j, frequency=freq), ax=ax2)
