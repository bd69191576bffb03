"""The one training loop: end-to-end runs on both frameworks, the run directory,
resume equivalence and DistributedDataParallel with two CPU processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from shno_neurons.adapters.data import DataConfig, as_dataset, load_data
from shno_neurons.adapters.models import ModelConfig
from shno_neurons.adapters.training import (
    RunConfig,
    TrainConfig,
    aux_weight,
    evaluate,
    load_checkpoint,
    train,
)

# A small SHNO network: 24 neurons, 6 steps of 0.2 ns (the default drive of 3 j_c
# fires after about 0.9 ns) at 5 ps substeps.
TINY = dict(
    n_neurons=24, steps=6, dt=2e-10, dt_sub=5e-12, hidden=(64, 32), head_hidden=24
)
FIGURES = {
    "raster.png",
    "readout.png",
    "curves.png",
    "confusion.png",
    "per_class.png",
    "spike_counts.png",
    "physical.png",
}


def _config(framework: str = "snntorch", per_class: int = 48, **train_kw) -> RunConfig:
    train_kw.setdefault("epochs", 3)
    train_kw.setdefault("batch_size", 16)
    train_kw.setdefault("figures", False)
    return RunConfig(
        data=DataConfig(limit_per_class=per_class),
        model=ModelConfig(framework=framework, **TINY),
        train=TrainConfig(**train_kw),
    )


def test_aux_weight_schedule_warms_up_then_hands_over():
    tc = TrainConfig(
        epochs=6, warmup_epochs=2, aux_weight_start=0.7, aux_weight_end=0.1
    )
    weights = [aux_weight(e, tc) for e in range(6)]
    assert weights[:2] == [0.7, 0.7]
    assert weights[-1] == pytest.approx(0.1)
    assert weights[2:] == pytest.approx([0.7, 0.5, 0.3, 0.1])
    short = TrainConfig(epochs=2, warmup_epochs=2)
    assert [aux_weight(e, short) for e in range(2)] == [0.7, 0.7]


def _check_run_directory(out, cfg, figures):
    saved = json.loads((out / "config.json").read_text())
    assert RunConfig.from_dict(saved) == cfg
    rows = json.loads((out / "metrics.json").read_text())
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    csv_lines = (out / "metrics.csv").read_text().strip().splitlines()
    assert len(csv_lines) == 4 and "test_acc" in csv_lines[0]
    assert (out / "checkpoints" / "best.pt").is_file()
    assert (out / "checkpoints" / "last.pt").is_file()
    if figures:
        written = {p.name for p in (out / "figures").iterdir()}
        assert written == FIGURES
        assert all((out / "figures" / f).stat().st_size > 5000 for f in FIGURES)
    else:
        assert not (out / "figures").exists()
    return json.loads((out / "summary.json").read_text())


def test_end_to_end_on_both_frameworks(tmp_path):
    cfg = _config("snntorch", figures=True)
    result = train(cfg, tmp_path / "snntorch", progress=False)
    summary = _check_run_directory(tmp_path / "snntorch", cfg, figures=True)

    # The main (spiking) head beats chance (0.25) by a wide margin, and the layer
    # really spikes.
    assert summary["test_acc"] >= 0.7
    assert summary["test_spikes_per_neuron"] > 0.2
    assert summary["test_silent_fraction"] < 0.5
    assert result.final["test_acc"] == summary["test_acc"]

    # The last checkpoint reproduces the reported test metrics.
    _, model, ckpt = load_checkpoint(tmp_path / "snntorch" / "checkpoints" / "last.pt")
    assert ckpt["epoch"] == 2
    data = load_data(cfg.data)
    ev = evaluate(model, as_dataset(data.test))
    assert ev.metrics()["test_acc"] == pytest.approx(summary["test_acc"])
    assert ev.metrics()["test_spikes_per_neuron"] == pytest.approx(
        summary["test_spikes_per_neuron"], rel=1e-5
    )

    # Norse's SequentialState + SHNOCell runs the same functional step: the same
    # training, epoch by epoch.
    cfg_norse = _config("norse")
    norse = train(cfg_norse, tmp_path / "norse", progress=False)
    _check_run_directory(tmp_path / "norse", cfg_norse, figures=False)

    def strip(rows):
        return [{k: v for k, v in r.items() if k != "epoch_time_s"} for r in rows]

    assert strip(norse.history) == strip(result.history)


def test_resume_reaches_the_same_result(tmp_path):
    cfg = _config(per_class=16, epochs=3, batch_size=16)
    full = train(cfg, tmp_path / "full", progress=False)
    first = train(cfg, tmp_path / "cut", progress=False, stop_after=1)
    assert len(first.history) == 1
    assert not (tmp_path / "cut" / "summary.json").exists()
    resumed = train(None, tmp_path / "cut", resume=True, progress=False)

    a = torch.load(tmp_path / "full" / "checkpoints" / "last.pt", weights_only=False)
    b = torch.load(tmp_path / "cut" / "checkpoints" / "last.pt", weights_only=False)
    assert a["model"].keys() == b["model"].keys()
    for key, value in a["model"].items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(value, b["model"][key]), key
        else:  # extra state of the device module (readout kind, rest tilt)
            assert value == b["model"][key], key
    assert a["optimizer"]["state"][0]["exp_avg"].equal(
        b["optimizer"]["state"][0]["exp_avg"]
    )

    def strip(rows):
        return [{k: v for k, v in r.items() if k != "epoch_time_s"} for r in rows]

    assert strip(full.history) == strip(resumed.history)


def test_resume_without_checkpoint_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        train(None, tmp_path, resume=True)


def test_a_finished_run_is_not_overwritten(tmp_path):
    cfg = _config(per_class=4, epochs=1, batch_size=8)
    train(cfg, tmp_path, progress=False, stop_after=1)
    before = (tmp_path / "checkpoints" / "last.pt").read_bytes()
    with pytest.raises(FileExistsError, match="--resume"):
        train(cfg, tmp_path, progress=False)
    assert (tmp_path / "checkpoints" / "last.pt").read_bytes() == before


def test_history_logs_the_rate_each_epoch_trained_at(tmp_path):
    cfg = _config(per_class=4, epochs=2, batch_size=8)
    result = train(cfg, tmp_path, progress=False)
    assert result.history[0]["lr"] == cfg.train.lr
    assert result.history[1]["lr"] < cfg.train.lr


def test_mismatched_classes_are_reported(tmp_path):
    cfg = _config(per_class=4)
    cfg.model.n_classes = 3
    with pytest.raises(ValueError, match="n_classes = 3"):
        train(cfg, tmp_path, progress=False)


def test_ddp_with_two_cpu_processes(tmp_path):
    out = tmp_path / "ddp"
    args = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "shno_neurons",
        "train",
        "--out",
        str(out),
        "--limit-per-class",
        "48",
        "--epochs",
        "3",
        "--batch-size",
        "16",
        "--n-neurons",
        "24",
        "--steps",
        "6",
        "--dt-sub",
        "5e-12",
        "--dt",
        "2e-10",
        "--hidden",
        "64,32",
        "--head-hidden",
        "24",
        "--threads",
        "1",
        "--no-progress",
        "--no-figures",
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["world_size"] == 2
    assert summary["test_acc"] >= 0.7
    assert "backend gloo" in proc.stderr
    rows = json.loads((out / "metrics.json").read_text())
    assert len(rows) == 3
    # Same global batch on one process: the same accuracy within noise.
    single = train(_config(), tmp_path / "single", progress=False)
    assert abs(single.final["test_acc"] - summary["test_acc"]) <= 0.1
