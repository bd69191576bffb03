"""``shno-neurons compare`` end to end, its energy model, and the f-I comparison.

The end-to-end test runs the real command line on a tiny budget and reads the report
back: every number printed in ``report.md`` must equal (to its printed precision) the
one in ``results.json``, and ``results.json`` must be consistent with its own per-run
rows. The energy and f-I checks use closed forms.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import matplotlib
import pytest
import torch
from shno_neurons.adapters import compare, functional_compare
from shno_neurons.adapters.models import ModelConfig, build_model

from shno_neurons.cli import main

matplotlib.use("Agg")


# ------------------------------------------------------------------ end to end
@pytest.fixture(scope="module")
def quick_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("compare") / "out"
    code = main(
        [
            "--log-level",
            "WARNING",
            "compare",
            "--quick",
            "--limit-per-class",
            "6",
            "--epochs",
            "2",
            "--latency-repeats",
            "1",
            "--no-aux",
            "leaky,relu",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    return out


def _rows(report: str, header_start: str) -> dict[str, list[str]]:
    """Cells of the table whose header begins with ``header_start``, by variant."""
    lines = report.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith(header_start))
    rows = {}
    for ln in lines[start + 2 :]:
        if not ln.startswith("| `"):
            break
        cells = [c.strip() for c in ln.strip("|").split("|")]
        rows[cells[0].strip("`")] = cells[1:]
    return rows


def _check(cell: str, stats: dict | None, scale: float, digits: int) -> None:
    """A ``mean ± std`` cell equals the summary entry to its printed precision."""
    if stats is None or stats["mean"] is None:
        assert cell in ("n/a", "not run"), cell
        return
    numbers = [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?", cell)]
    tol = 0.5 * 10.0**-digits + 1e-9
    assert numbers[0] == pytest.approx(scale * stats["mean"], abs=tol), cell
    if stats["std"] is not None:
        assert numbers[1] == pytest.approx(scale * stats["std"], abs=tol), cell


def test_report_numbers_are_those_of_results_json(quick_run):
    results = json.loads((quick_run / "results.json").read_text())
    report = (quick_run / "report.md").read_text()
    variants = results["variants"]
    assert set(variants) == {
        "shno_snntorch",
        "shno_norse",
        "leaky",
        "lif",
        "relu",
        "leaky_noaux",
        "relu_noaux",
    }

    acc = _rows(report, "| variant | main head (%)")
    assert set(acc) == {n for n, v in variants.items() if v["aux_loss"]}
    for name, cells in acc.items():
        s = variants[name]["summary"]
        _check(cells[0], s["test_acc"], 100, 2)
        _check(cells[1], s["test_acc_aux"], 100, 2)
        noaux = variants.get(f"{name}_noaux")
        _check(cells[2], noaux["summary"]["test_acc"] if noaux else None, 100, 2)
        _check(cells[3], s["test_acc_last_gain"], 100, 2)

    act = _rows(report, "| variant | spikes per neuron")
    assert set(act) == set(variants)
    for name, cells in act.items():
        s, p = variants[name]["summary"], variants[name]["params"]
        _check(cells[0], s["spikes_per_neuron"], 1, 3)
        _check(cells[1], s["silent_fraction"], 100, 1)
        _check(cells[2], s["epoch_time_s"], 1, 2)
        _check(cells[3], s["latency_s"], 1e3, 3)
        assert [int(c) for c in cells[4:7]] == [
            p["total"],
            p["spiking_layer"],
            p["outside"],
        ]

    energy = _rows(report, "| variant | spikes per inference")
    assert set(energy) == {n for n, v in variants.items() if v["spiking"]}
    for name, cells in energy.items():
        s = variants[name]["summary"]
        _check(cells[0], s["spikes_per_inference"], 1, 1)
        _check(cells[1], s["synaptic_ops_per_inference"], 1, 0)
        _check(cells[2], s["loihi_energy_j"], 1e12, 1)
        _check(cells[3], s["joule_energy_j"], 1e12, 2)
        _check(cells[4], s["joule_energy_per_spike_j"], 1e12, 3)
    assert "IEEE Micro 38(1), 82-99 (2018)" in report


def test_results_json_is_consistent_with_its_runs(quick_run):
    results = json.loads((quick_run / "results.json").read_text())
    variants = results["variants"]
    n_neurons = results["config"]["model"]["n_neurons"]
    fan_out = results["config"]["model"]["head_hidden"]
    outside = {v["params"]["outside"] for v in variants.values()}
    assert len(outside) == 1  # the swap changes the spiking layer only
    for v in variants.values():
        runs = v["runs"]
        assert [r["seed"] for r in runs] == results["config"]["seeds"]
        accs = [r["test_acc"] for r in runs]
        assert v["summary"]["test_acc"]["mean"] == pytest.approx(sum(accs) / len(accs))
        mean = sum(accs) / len(accs)
        std = math.sqrt(sum((a - mean) ** 2 for a in accs) / (len(accs) - 1))
        assert v["summary"]["test_acc"]["std"] == pytest.approx(std)
        for r in runs:
            assert 0.0 <= r["test_acc"] <= 1.0
            assert r["history"]["test_acc"][-1] == r["test_acc"]
            assert r["test_acc_last_gain"] == pytest.approx(
                r["test_acc"] - r["history"]["test_acc"][-2]
            )
            if v["spiking"]:
                spikes = r["spikes_per_neuron"] * n_neurons
                assert r["spikes_per_inference"] == pytest.approx(spikes)
                assert r["synaptic_ops_per_inference"] == pytest.approx(
                    spikes * fan_out
                )
                assert r["loihi_energy_j"] == pytest.approx(spikes * fan_out * 23.6e-12)
            if v["block"] == "shno":
                assert r["joule_energy_j"] > 0
            else:
                assert "joule_energy_j" not in r
    # The two SHNO front-ends run the same neuron through the same loop.
    for a, b in zip(
        variants["shno_snntorch"]["runs"], variants["shno_norse"]["runs"], strict=True
    ):
        assert b["spikes_per_neuron"] == pytest.approx(a["spikes_per_neuron"], rel=1e-3)
        assert b["joule_energy_j"] == pytest.approx(a["joule_energy_j"], rel=1e-3)
    assert variants["leaky"]["baseline_parameters"]["beta"] == pytest.approx(0.95)
    assert variants["leaky"]["baseline_parameters"]["surrogate"] == "atan"
    assert variants["lif"]["baseline_parameters"]["tau_mem_inv"] == pytest.approx(100)
    assert variants["lif"]["baseline_parameters"]["dt"] == pytest.approx(1e-3)


def test_figures_are_written(quick_run):
    for name in ("accuracy_curves", "rasters", "accuracy", "energy"):
        data = (quick_run / "figures" / f"{name}.png").read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
        assert f"figures/{name}.png" in (quick_run / "report.md").read_text()


# ------------------------------------------------------------------ energy model
def test_strip_geometry_closed_forms():
    g = compare.StripGeometry()
    assert g.volume == pytest.approx(100e-9 * 6e-9 * 100e-9)
    assert g.resistance == pytest.approx(2e-7 * 100e-9 / (100e-9 * 6e-9))  # 33.3 Ohm
    with pytest.raises(ValueError, match="StripGeometry.width = -1"):
        compare.StripGeometry(width=-1.0)


def test_joule_energy_matches_i2r():
    g = compare.StripGeometry()
    j = 3e12
    currents = [torch.full((2, 5), j), torch.full((2, 5), j)]
    e = compare.joule_energy(currents, 1e-10, g)
    # P = I^2 R with I = j w t_HM, per neuron and step.
    power = (j * g.width * g.thickness) ** 2 * g.resistance
    assert e.shape == (2,)
    torch.testing.assert_close(e, torch.full((2,), power * 1e-10 * 10, dtype=e.dtype))


def test_capture_currents_records_the_mapping_output():
    config = ModelConfig(hidden=(16,), n_neurons=4, head_hidden=4, steps=3)
    model = build_model(config).eval()
    x = torch.rand(2, 1, 28, 28)
    with torch.no_grad(), compare.capture_currents(model) as currents:
        model(x)
        feats = model.encoder(x)
    assert len(currents) == 3
    for t, j in enumerate(currents):
        torch.testing.assert_close(j, model.block.mapping(feats, t))
    lif = build_model(ModelConfig(hidden=(16,), n_neurons=4, block="lif"))
    with pytest.raises(ValueError, match="no CurrentMapping"):
        with compare.capture_currents(lif):
            pass


def test_compare_config_rejects_bad_variants():
    with pytest.raises(ValueError, match="'spiky' is not one of"):
        compare.CompareConfig(variants=("spiky",))
    with pytest.raises(ValueError, match="not in variants"):
        compare.CompareConfig(variants=("relu",), no_aux=("leaky",))
    with pytest.raises(ValueError, match="repeats a seed"):
        compare.CompareConfig(seeds=(1, 1))


# ------------------------------------------------------------ f-I, no training
def test_fi_curves_threshold_and_lif_rates():
    drives = torch.tensor([0.9, 1.2, 3.0])
    curves = functional_compare.fi_curves(drives, steps=120)
    assert set(curves) == {"shno", "leaky", "lif"}
    for name, c in curves.items():
        assert float(c.rate[0]) == 0.0, name  # below one rheobase: silent
        assert float(c.rate[2]) > 0.0, name  # at three rheobases: firing
    # snnTorch Leaky with subtractive reset conserves charge: over a long window the
    # spike count is the integrated drive beyond the leak, so at 3 rheobases
    # (I = 0.15, beta = 0.95) the rate lies between the no-leak bound I / U_thr and
    # the bound for a membrane held at threshold, (I - (1 - beta) U_thr) / U_thr.
    leaky = float(curves["leaky"].rate[2])
    assert 0.10 - 1.0 / 120 <= leaky <= 0.15
    assert curves["shno"].rate_hz is not None and curves["leaky"].rate_hz is None
    torch.testing.assert_close(curves["shno"].rate_hz, curves["shno"].rate / 1e-10)


def test_drive_responses_share_the_sequence():
    seq = torch.cat([torch.zeros(5), torch.full((25,), 3.0)])
    r = functional_compare.drive_responses(seq)
    for name, resp in r.items():
        assert resp.spikes.shape == resp.trace.shape == (30, 1), name
        assert float(resp.spikes[:5].sum()) == 0.0, name
    assert r["shno"].rheobase == pytest.approx(1.051e12, rel=1e-3)
    with pytest.raises(ValueError, match="not among"):
        functional_compare.drive_responses(seq, models=("izhikevich",))


def test_fi_plots_draw_on_given_axes():
    import matplotlib.pyplot as plt

    curves = functional_compare.fi_curves([0.5, 2.0], steps=20, models=("leaky", "lif"))
    fig, ax = plt.subplots()
    assert functional_compare.plot_fi_curves(curves, ax=ax) is ax
    assert len(ax.lines) == 3  # two curves and the rheobase line
    r = functional_compare.drive_responses(torch.full((10,), 2.0), models=("leaky",))
    fig2 = functional_compare.fi_figure(curves, r)
    assert len(fig2.axes) == 2
    plt.close("all")
