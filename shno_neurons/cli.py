"""Command line: ``shno-neurons train | evaluate | compare`` (also ``python -m
shno_neurons``).

``train`` exposes every field of the run configuration
(:class:`~shno_neurons.adapters.data.DataConfig`,
:class:`~shno_neurons.adapters.models.ModelConfig`,
:class:`~shno_neurons.adapters.training.TrainConfig`) as ``--field-name``; the help of
each option is the field's docstring entry, so the two cannot drift apart. Tuples are
given comma-separated (``--classes 0,1,2,3``, ``--hidden 256,128``), booleans as
``--flag`` / ``--no-flag``. Under ``torchrun --nproc_per_node=N -m shno_neurons train``
the run uses DistributedDataParallel.

This module is a face: it parses, logs and prints, and holds no physics and no
training logic.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import pickle
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main", "build_parser"]

log = logging.getLogger("shno_neurons.cli")


def _attribute_help(cls: type) -> dict[str, str]:
    """Field help from the ``Attributes:`` section of a Google-style docstring."""
    doc = cls.__doc__ or ""
    part = doc.split("Attributes:", 1)[-1] if "Attributes:" in doc else ""
    helps: dict[str, str] = {}
    current = None
    for line in part.splitlines():
        m = re.match(r"^\s{8}(\w+):\s*(.*)$", line)
        if m:
            current = m.group(1)
            helps[current] = m.group(2)
        elif current and line.startswith(" " * 12):
            helps[current] += " " + line.strip()
        elif line.strip():
            current = None

    # Plain text for a terminal: Sphinx roles (:func:`~a.b.name`) become ``name``.
    def plain(text: str) -> str:
        text = re.sub(r":\w+:`~?(?:[\w.]*\.)?([\w]+)`", r"\1", text)
        return text.replace("%", "%%").replace("``", "")

    return {k: plain(v) for k, v in helps.items()}


def _parse_tuple(kind: type):
    def parse(text: str) -> tuple:
        items = [s.strip() for s in text.split(",") if s.strip()]
        try:
            return tuple(kind(s) for s in items)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a comma-separated list of {kind.__name__}"
            ) from None

    return parse


def _add_config_options(
    parser: argparse.ArgumentParser, cls: type, section: str, title: str
) -> None:
    """One option per dataclass field, default ``None`` (= keep the config default)."""
    group = parser.add_argument_group(title)
    helps = _attribute_help(cls)
    defaults = cls()
    for f in dataclasses.fields(cls):
        if f.name.startswith("_"):
            continue
        flag = "--" + f.name.replace("_", "-")
        default = getattr(defaults, f.name)
        text = helps.get(f.name, "")
        kw: dict[str, Any] = {"dest": f"{section}.{f.name}", "default": None}
        annotation = str(f.type)
        if annotation == "bool":
            kw["action"] = argparse.BooleanOptionalAction
        elif annotation.startswith("tuple"):
            inner = int if "int" in annotation else str
            kw["type"] = _parse_tuple(inner)
            kw["metavar"] = "A,B,..."
            default = ",".join(str(v) for v in default)
        elif annotation in ("int", "float", "str"):
            kw["type"] = {"int": int, "float": float, "str": str}[annotation]
            kw["metavar"] = f.name.upper()
        else:  # pragma: no cover - every field has one of the types above
            raise TypeError(f"{cls.__name__}.{f.name}: unsupported type {annotation}")
        kw["help"] = f"{text} (default: {default})"
        group.add_argument(flag, **kw)


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``shno-neurons`` (subcommands train, evaluate, compare)."""
    from .adapters.data import DataConfig
    from .adapters.models import ModelConfig
    from .adapters.training import TrainConfig

    parser = argparse.ArgumentParser(
        prog="shno-neurons",
        description="Hybrid ANN-SNN classifier with a spiking layer of spin Hall "
        "nano-oscillator neurons.",
    )
    parser.add_argument(
        "--log-level", default="INFO", help="logging level (default: INFO)"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    tr = sub.add_parser(
        "train",
        help="train the classifier (defaults: embedded MNIST sample, digits 0-3)",
        description="Train the hybrid classifier and write a run directory.",
    )
    tr.add_argument(
        "--out",
        default=None,
        help="run directory (default: runs/train-YYYYmmdd-HHMMSS)",
    )
    tr.add_argument(
        "--resume",
        action="store_true",
        help="continue the interrupted run in --out from its last checkpoint",
    )
    tr.add_argument(
        "--config",
        default=None,
        help="JSON file of a resolved configuration (a run's config.json) to start "
        "from; options given on the command line override it",
    )
    tr.add_argument(
        "--stop-after",
        type=int,
        default=None,
        help="stop after this many epochs, as an interruption would (resume later)",
    )
    tr.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="tqdm progress bar per epoch (default: on)",
    )
    _add_config_options(tr, DataConfig, "data", "data")
    _add_config_options(tr, ModelConfig, "model", "model")
    _add_config_options(tr, TrainConfig, "train", "training")

    ev = sub.add_parser(
        "evaluate",
        help="evaluate a checkpoint on its run's test set",
        description="Evaluate a checkpoint (a .pt file or a run directory, which "
        "means its best.pt) on the test set of the data it was trained on.",
    )
    ev.add_argument("checkpoint", help="checkpoint file or run directory")
    ev.add_argument("--device", default="auto", help="torch device (default: auto)")
    ev.add_argument(
        "--dataset", default=None, help="evaluate on another data source instead"
    )
    ev.add_argument("--json", default=None, help="also write the metrics to this file")

    cmp = sub.add_parser(
        "compare",
        help="compare spiking blocks (SHNO, LIF, ReLU) with the same training loop",
        description="Train several blocks with the same loop and compare them.",
    )
    try:
        from .adapters import compare
    except ImportError as err:
        cmp.set_defaults(_compare_error=str(err))
    else:
        compare.add_arguments(cmp)
    return parser


def _run_config(args: argparse.Namespace):
    from .adapters.training import RunConfig

    base = RunConfig()
    if args.config:
        try:
            base = RunConfig.from_dict(json.loads(Path(args.config).read_text()))
        except (OSError, ValueError, TypeError) as err:
            raise SystemExit(f"--config {args.config!r}: {err}") from err
    sections = {"data": {}, "model": {}, "train": {}}
    for key, value in vars(args).items():
        if "." in key and value is not None:
            section, name = key.split(".", 1)
            sections[section][name] = value
    d = base.to_dict()
    for section, changes in sections.items():
        d[section].update(changes)
    return RunConfig.from_dict(d), sections


def _setup_logging(level: str) -> None:
    rank = os.environ.get("RANK")
    prefix = f"[rank {rank}] " if rank is not None else ""
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format=f"%(asctime)s {prefix}%(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )


def _cmd_train(args: argparse.Namespace) -> int:
    from .adapters.data import DataError, load_data
    from .adapters.training import train

    out = Path(args.out or time.strftime("runs/train-%Y%m%d-%H%M%S"))
    t0 = time.perf_counter()
    if args.resume:
        if args.out is None:
            raise SystemExit("--resume needs --out DIR, the interrupted run.")
        given = [
            "--" + key.split(".", 1)[1].replace("_", "-")
            for key, value in vars(args).items()
            if "." in key and value is not None
        ] + (["--config"] if args.config else [])
        if given:
            raise ValueError(
                f"--resume continues {str(out)!r} with the configuration saved in "
                f"it, so {', '.join(given)} would be ignored. Drop them to resume, or "
                f"start a new run from it: shno-neurons train --config "
                f"{out / 'config.json'} {' '.join(given)} --out NEW_DIR."
            )
        result = train(
            None, out, resume=True, stop_after=args.stop_after, progress=args.progress
        )
    else:
        config, given = _run_config(args)
        try:
            data = load_data(config.data)
        except DataError as err:
            raise SystemExit(f"error: {err}") from err
        if "n_classes" not in given["model"]:
            config.model.n_classes = len(data.classes)
        result = train(
            config, out, stop_after=args.stop_after, progress=args.progress, data=data
        )
    if int(os.environ.get("RANK", "0")) == 0 and result.final:
        f = result.final
        print(
            f"run {result.out}: test accuracy {100 * f['test_acc']:.2f}% (main, "
            f"spiking head), {100 * f['test_acc_aux']:.2f}% (aux head), "
            f"{f['test_spikes_per_neuron']:.3f} spikes per neuron per sample, "
            f"{100 * f['test_silent_fraction']:.1f}% silent neurons, "
            f"{time.perf_counter() - t0:.1f} s"
        )
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    import torch

    from .adapters.data import DataError, as_dataset, load_data
    from .adapters.training import evaluate, load_checkpoint, resolve_device

    device = resolve_device(args.device)
    try:
        config, model, ckpt = load_checkpoint(args.checkpoint, device)
    except FileNotFoundError as err:
        raise SystemExit(f"error: {err}") from err
    except pickle.UnpicklingError as err:
        raise SystemExit(
            f"error: {args.checkpoint!r} is not a checkpoint ({err}); pass a run "
            "directory or its checkpoints/best.pt or last.pt."
        ) from err
    if args.dataset is not None:
        config.data.dataset = args.dataset
    try:
        data = load_data(config.data)
    except DataError as err:
        raise SystemExit(f"error: {err}") from err
    if len(data.classes) != config.model.n_classes:
        raise SystemExit(
            f"error: the checkpoint has {config.model.n_classes} classes but the data "
            f"has {len(data.classes)} ({data.classes}); pick matching --classes."
        )
    with torch.no_grad():
        ev = evaluate(
            model, as_dataset(data.test), config.train.eval_batch_size, device
        )
    metrics = {"checkpoint": str(args.checkpoint), "epoch": int(ckpt["epoch"]) + 1}
    metrics.update(ev.metrics("test_"))
    metrics["n_test"] = len(ev.labels)
    metrics["confusion"] = ev.confusion(config.model.n_classes).tolist()
    metrics["classes"] = data.classes
    text = json.dumps(metrics, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text)
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    if getattr(args, "_compare_error", None):
        raise SystemExit(
            f"error: the compare command is unavailable ({args._compare_error})."
        )
    from .adapters import compare

    return int(compare.run(args))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``shno-neurons`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.log_level)
    # A command line draws figures to files only: select the non-interactive backend
    # unless the user chose one (library modules never switch backends themselves).
    if "matplotlib.pyplot" not in sys.modules:
        os.environ.setdefault("MPLBACKEND", "Agg")
    try:
        if args.command == "train":
            return _cmd_train(args)
        if args.command == "evaluate":
            return _cmd_evaluate(args)
        return _cmd_compare(args)
    except (ValueError, FileExistsError, FileNotFoundError) as err:
        # Configuration errors carry their own explanation (argument, value, fix).
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # Checkpoints are written at the end of each epoch; say how to continue.
        out = getattr(args, "out", None)
        hint = (
            f" Continue from the last finished epoch with: shno-neurons train "
            f"--out {out} --resume"
            if args.command == "train" and out
            else ""
        )
        print(f"interrupted.{hint}", file=sys.stderr)
        return 130
