"""The ``shno-neurons`` command line: train, resume, evaluate, errors, entry points."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata

import pytest

from shno_neurons.cli import build_parser, main

# The ReLU ablation keeps these runs fast; the SHNO runs are in test_training.py.
FAST = [
    "--block",
    "relu",
    "--limit-per-class",
    "16",
    "--batch-size",
    "16",
    "--hidden",
    "32,16",
    "--n-neurons",
    "8",
    "--head-hidden",
    "8",
    "--no-progress",
]


def test_console_script_and_module_entry_points():
    scripts = metadata.entry_points(group="console_scripts")
    (ep,) = [e for e in scripts if e.name == "shno-neurons"]
    assert ep.value == "shno_neurons.cli:main"
    proc = subprocess.run(
        [sys.executable, "-W", "ignore", "-m", "shno_neurons", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0
    for command in ("train", "evaluate", "compare"):
        assert command in proc.stdout


def test_every_config_field_is_an_option_with_its_docstring_help():
    from shno_neurons.adapters.data import DataConfig
    from shno_neurons.adapters.models import ModelConfig
    from shno_neurons.adapters.training import TrainConfig

    parser = build_parser()
    sub = parser._subparsers._group_actions[0].choices["train"]
    options = {a.dest: a for a in sub._actions}
    for section, cls in (
        ("data", DataConfig),
        ("model", ModelConfig),
        ("train", TrainConfig),
    ):
        for name in cls.__dataclass_fields__:
            assert f"{section}.{name}" in options, name
    assert "integrator substep" in options["model.dt_sub"].help
    assert "(default: 4e-12)" in options["model.dt_sub"].help
    args = parser.parse_args(["train", "--classes", "1,7", "--hidden", "10,5"])
    assert getattr(args, "data.classes") == ("1", "7")
    assert getattr(args, "model.hidden") == (10, 5)


def test_train_then_evaluate(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--out", str(out), "--epochs", "2", "--no-figures", *FAST])
    assert code == 0
    printed = capsys.readouterr().out
    assert "test accuracy" in printed and "spikes per neuron per sample" in printed
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["block"] == "relu"
    assert config["model"]["n_classes"] == 4
    assert config["train"]["epochs"] == 2

    code = main(
        [
            "evaluate",
            str(out / "checkpoints" / "last.pt"),
            "--json",
            str(tmp_path / "ev.json"),
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    summary = json.loads((out / "summary.json").read_text())
    assert report["test_acc"] == pytest.approx(summary["test_acc"])
    assert report["n_test"] == 64
    assert sum(map(sum, report["confusion"])) == 64
    assert json.loads((tmp_path / "ev.json").read_text()) == report


def test_classes_set_the_head_width_and_config_file_is_a_base(tmp_path, capsys):
    out = tmp_path / "a"
    assert (
        main(
            [
                "train",
                "--out",
                str(out),
                "--epochs",
                "1",
                "--classes",
                "5,6,9",
                "--no-figures",
                *FAST,
            ]
        )
        == 0
    )
    assert json.loads((out / "config.json").read_text())["model"]["n_classes"] == 3
    out_b = tmp_path / "b"
    assert (
        main(
            [
                "train",
                "--out",
                str(out_b),
                "--config",
                str(out / "config.json"),
                "--lr",
                "0.001",
                "--no-progress",
                "--no-figures",
            ]
        )
        == 0
    )
    cfg = json.loads((out_b / "config.json").read_text())
    assert cfg["data"]["classes"] == ["5", "6", "9"]
    assert cfg["train"]["lr"] == 0.001
    capsys.readouterr()


def test_stop_and_resume_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--out",
                str(out),
                "--epochs",
                "3",
                "--stop-after",
                "1",
                "--no-figures",
                *FAST,
            ]
        )
        == 0
    )
    assert len(json.loads((out / "metrics.json").read_text())) == 1
    # Options that the saved configuration would override are refused, not ignored.
    assert main(["train", "--out", str(out), "--resume", "--epochs", "5"]) == 2
    assert "--epochs would be ignored" in capsys.readouterr().err
    # A fresh run into the same directory would overwrite it: refused too.
    assert main(["train", "--out", str(out), "--no-progress", *FAST]) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert main(["train", "--out", str(out), "--resume", "--no-progress"]) == 0
    rows = json.loads((out / "metrics.json").read_text())
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert (out / "summary.json").is_file()
    capsys.readouterr()


def test_errors_are_clear(tmp_path, capsys):
    with pytest.raises(SystemExit, match="neither 'embedded'"):
        main(
            [
                "train",
                "--out",
                str(tmp_path / "x"),
                "--dataset",
                str(tmp_path / "missing"),
                *FAST,
            ]
        )
    with pytest.raises(SystemExit, match="'x' is neither a class name"):
        main(["train", "--out", str(tmp_path / "x"), "--classes", "0,x", *FAST])
    with pytest.raises(SystemExit, match="does not exist"):
        main(["evaluate", str(tmp_path / "nothing.pt")])
    with pytest.raises(SystemExit, match="needs --out"):
        main(["train", "--resume"])
    assert (
        main(["train", "--out", str(tmp_path / "y"), "--framework", "jax", *FAST]) == 2
    )
    assert "framework = 'jax'" in capsys.readouterr().err
