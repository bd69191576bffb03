"""The one training loop of the hybrid classifier (``train``, ``compare`` and the
examples all call :func:`train`).

A run is described by a :class:`RunConfig` (data, model and training settings) and
writes a run directory::

    OUT/config.json          resolved configuration (every default filled in)
    OUT/metrics.csv, .json   one row per epoch: losses and accuracies of both heads,
                             spikes per neuron per sample, learning rate, time
    OUT/summary.json         final test metrics, wall time of the call that
                             finished the run, world size
    OUT/checkpoints/last.pt  model, optimizer, scheduler, RNG states, epoch, history
    OUT/checkpoints/best.pt  the epoch with the best main-head test accuracy (there
                             is no separate validation split, so the numbers to
                             quote are the last epoch's, in summary.json)
    OUT/figures/*.png        written by :mod:`shno_neurons.adapters.figures`

Loss: ``w_main * CE(main logits) + w_aux * CE(aux logits)`` with
``w_aux`` from :func:`aux_weight` (a warm-up leaning on the auxiliary head, then a
linear hand-over to the main, spiking head) and ``w_main = 1 - w_aux``; Adam, global
gradient-norm clipping and a cosine learning-rate schedule over the epochs.

Reproducibility and resume: every epoch seeds torch's generators from
``(seed, epoch, rank)`` and shuffles with :class:`DistributedSampler`'s
``set_epoch``, so an epoch's randomness (shuffle, dropout, thermal noise) does not
depend on what ran before it; a run resumed from ``last.pt`` therefore reaches the same
weights as an uninterrupted one (bit for bit on CPU). The checkpoint also carries the
RNG states themselves, restored on resume.

Scale: under ``torchrun`` (``WORLD_SIZE`` > 1) the model is wrapped in
:class:`~torch.nn.parallel.DistributedDataParallel` (gloo on CPU, nccl on CUDA), each
process takes ``batch_size / world_size`` images of each global batch, and evaluation
is sharded and gathered, so the optimisation matches one process with the same global
batch (BatchNorm statistics are per process, as in any DDP run without SyncBatchNorm).
Only rank 0 writes files.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

from .data import DataConfig, DataSplit, as_dataset, load_data
from .models import HybridClassifier, ModelConfig, build_model

__all__ = [
    "TrainConfig",
    "RunConfig",
    "RunResult",
    "EvalResult",
    "aux_weight",
    "train",
    "evaluate",
    "load_checkpoint",
    "resolve_device",
]

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    """Optimisation and bookkeeping settings.

    Attributes:
        epochs: passes over the training set.
        batch_size: global batch (split across DDP processes).
        eval_batch_size: batch of the evaluation passes.
        lr: Adam learning rate at the start of the cosine schedule.
        lr_min: learning rate at the end of the cosine schedule.
        weight_decay: Adam weight decay (L2).
        grad_clip: largest global gradient norm (0 turns clipping off).
        aux_weight_start: weight of the auxiliary loss during the warm-up.
        aux_weight_end: weight of the auxiliary loss in the last epoch.
        warmup_epochs: epochs at ``aux_weight_start`` before the hand-over.
        seed: seed of weights, shuffling, dropout and noise.
        device: ``"auto"`` (CUDA when present, else CPU), ``"cpu"``, ``"cuda"``,
            ``"cuda:1"``, ...
        threads: CPU threads for torch (0 keeps torch's default).
        figures: write the PNG figures at the end of the run.
        figure_samples: test images shown in the raster and readout figures.
    """

    epochs: int = 8
    batch_size: int = 64
    eval_batch_size: int = 200
    lr: float = 5e-3
    lr_min: float = 1e-4
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    aux_weight_start: float = 0.7
    aux_weight_end: float = 0.1
    warmup_epochs: int = 2
    seed: int = 0
    device: str = "auto"
    threads: int = 0
    figures: bool = True
    figure_samples: int = 4

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "eval_batch_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(
                    f"TrainConfig.{name} = {getattr(self, name)!r} must be >= 1."
                )
        for name in ("aux_weight_start", "aux_weight_end"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(
                    f"TrainConfig.{name} = {getattr(self, name)!r} must lie in [0, 1]."
                )
        if not (self.lr > 0 and 0 <= self.lr_min <= self.lr):
            raise ValueError(
                f"TrainConfig.lr = {self.lr!r}, lr_min = {self.lr_min!r}: need "
                "lr > 0 and 0 <= lr_min <= lr."
            )
        if self.grad_clip < 0 or self.warmup_epochs < 0 or self.threads < 0:
            raise ValueError(
                "TrainConfig.grad_clip, warmup_epochs and threads must be >= 0, got "
                f"{self.grad_clip!r}, {self.warmup_epochs!r}, {self.threads!r}."
            )


@dataclass
class RunConfig:
    """Everything a run needs: data, model and training settings."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (tuples become lists)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise."""
        sections = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}
        unknown = set(d) - set(sections)
        if unknown:
            raise ValueError(f"RunConfig: unknown sections {sorted(unknown)}.")
        return cls(**{k: sections[k](**d.get(k, {})) for k in sections})


def aux_weight(epoch: int, config: TrainConfig) -> float:
    """Weight of the auxiliary loss in ``epoch`` (0-based).

    ``aux_weight_start`` for the first ``warmup_epochs`` epochs, then a linear ramp
    reaching ``aux_weight_end`` in the last epoch.
    """
    if epoch < config.warmup_epochs:
        return config.aux_weight_start
    span = config.epochs - 1 - config.warmup_epochs
    if span <= 0:
        return config.aux_weight_end
    frac = min(1.0, (epoch - config.warmup_epochs) / span)
    return config.aux_weight_start + frac * (
        config.aux_weight_end - config.aux_weight_start
    )


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``"auto"`` to CUDA (this process's local GPU) when present, else CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ValueError(
            f"device = {name!r} is not a torch device; use 'auto', 'cpu' or 'cuda'."
        ) from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device = {name!r} but CUDA is not available here; use --device cpu."
        )
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", local_rank % torch.cuda.device_count())
    return device


# --------------------------------------------------------------------- distributed
class _Dist(NamedTuple):
    rank: int
    world: int
    local_rank: int
    owned: bool  # this call initialised the process group and must destroy it


def _setup_distributed(device_name: str) -> _Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return _Dist(0, 1, 0, False)
    if dist.is_initialized():
        return _Dist(dist.get_rank(), dist.get_world_size(), _local_rank(), False)
    local = _local_rank()
    device = resolve_device(device_name, local)
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend=backend)
    log.info("DDP: rank %d of %d, backend %s", dist.get_rank(), world, backend)
    return _Dist(dist.get_rank(), dist.get_world_size(), local, True)


def _local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def _all_sum(values: Tensor, d: _Dist) -> Tensor:
    if d.world > 1:
        values = values.clone()
        dist.all_reduce(values)
    return values


# ---------------------------------------------------------------------- evaluation
class EvalResult(NamedTuple):
    """Per-sample outcome of an evaluation pass (all ranks gathered).

    Attributes:
        labels: true class, ``[N]``.
        pred: main-head prediction, ``[N]``.
        pred_aux: auxiliary-head prediction, ``[N]``.
        loss: main-head cross-entropy per sample, ``[N]``.
        loss_aux: auxiliary-head cross-entropy per sample, ``[N]``.
        spikes: spikes per neuron summed over time, ``[N, n]``.
    """

    labels: Tensor
    pred: Tensor
    pred_aux: Tensor
    loss: Tensor
    loss_aux: Tensor
    spikes: Tensor

    def metrics(self, prefix: str = "test_") -> dict[str, float]:
        """Accuracies, mean losses, spikes per neuron per sample, silent fraction."""
        n = max(1, len(self.labels))
        return {
            f"{prefix}acc": float((self.pred == self.labels).sum()) / n,
            f"{prefix}acc_aux": float((self.pred_aux == self.labels).sum()) / n,
            f"{prefix}loss": float(self.loss.mean()),
            f"{prefix}loss_aux": float(self.loss_aux.mean()),
            f"{prefix}spikes_per_neuron": float(self.spikes.mean()),
            f"{prefix}silent_fraction": float((self.spikes.sum(0) == 0).float().mean()),
        }

    def confusion(self, n_classes: int) -> Tensor:
        """Confusion matrix ``[true, predicted]`` of the main head (counts)."""
        idx = self.labels * n_classes + self.pred
        return torch.bincount(idx, minlength=n_classes**2).view(n_classes, n_classes)


@torch.no_grad()
def evaluate(
    model: nn.Module,
    dataset: torch.utils.data.Dataset,
    batch_size: int = 200,
    device: torch.device | str = "cpu",
    rank: int = 0,
    world: int = 1,
) -> EvalResult:
    """Run ``model`` in eval mode over ``dataset`` (sharded over ``world`` ranks).

    Each rank takes every ``world``-th sample from ``rank``; under DDP the shards are
    gathered, so every rank returns the whole set's results.
    """
    was_training = model.training
    model.eval()
    idx = list(range(rank, len(dataset), world))
    loader = DataLoader(
        torch.utils.data.Subset(dataset, idx), batch_size=batch_size, shuffle=False
    )
    parts: dict[str, list[Tensor]] = {k: [] for k in EvalResult._fields}
    net = model.module if hasattr(model, "module") else model
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        out = net(x)
        parts["labels"].append(y.cpu())
        parts["pred"].append(out.logits.argmax(1).cpu())
        parts["pred_aux"].append(out.aux_logits.argmax(1).cpu())
        parts["loss"].append(F.cross_entropy(out.logits, y, reduction="none").cpu())
        parts["loss_aux"].append(
            F.cross_entropy(out.aux_logits, y, reduction="none").cpu()
        )
        parts["spikes"].append(out.spikes.sum(0).float().cpu())
    model.train(was_training)
    local = {k: torch.cat(v) if v else torch.empty(0) for k, v in parts.items()}
    if world > 1:
        gathered: list[Any] = [None] * world
        dist.all_gather_object(gathered, local)
        local = {k: torch.cat([g[k] for g in gathered]) for k in local}
    return EvalResult(**local)


# ------------------------------------------------------------------------ training
class RunResult(NamedTuple):
    """What :func:`train` returns (rank 0 has written the same to disk).

    Attributes:
        out: the run directory.
        history: one metrics dict per epoch.
        final: test metrics of the last epoch (plus ``wall_time_s``).
        model: the trained model (unwrapped from DDP), in eval mode.
    """

    out: Path
    history: list[dict[str, float]]
    final: dict[str, float]
    model: HybridClassifier


def _seed_epoch(seed: int, epoch: int, rank: int) -> None:
    s = (int(seed) * 1_000_003 + epoch * 7919 + rank) % (2**31 - 1)
    torch.manual_seed(s)
    random.seed(s)
    np.random.seed(s)


def _rng_state() -> dict[str, Any]:
    state = {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": np.random.get_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def load_checkpoint(
    path: str | Path, device: torch.device | str = "cpu"
) -> tuple[RunConfig, HybridClassifier, dict[str, Any]]:
    """Rebuild the model of a checkpoint: ``(config, model in eval mode, raw dict)``.

    Raises:
        FileNotFoundError: no file at ``path`` (a run directory is accepted too and
            resolves to its ``checkpoints/best.pt``).
    """
    path = Path(path)
    if path.is_dir():
        path = path / "checkpoints" / "best.pt"
    if not path.is_file():
        raise FileNotFoundError(
            f"checkpoint {str(path)!r} does not exist; pass a .pt file written by "
            "'shno-neurons train' or its run directory."
        )
    # weights_only=False: the checkpoint also holds the RNG states (NumPy's is not a
    # tensor). Load only checkpoints you trust, as with any pickle.
    ckpt = torch.load(path, map_location=device, weights_only=False)
    config = RunConfig.from_dict(ckpt["config"])
    model = build_model(config.model).to(device)
    model.load_state_dict(ckpt["model"])
    model.eval()
    return config, model, ckpt


def _write_metrics(out: Path, history: list[dict[str, float]]) -> None:
    (out / "metrics.json").write_text(json.dumps(history, indent=2))
    with open(out / "metrics.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)


def train(
    config: RunConfig | None,
    out: str | Path,
    *,
    resume: bool = False,
    stop_after: int | None = None,
    progress: bool = True,
    data: DataSplit | None = None,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
) -> RunResult:
    """Train the classifier ``config`` describes and write the run directory ``out``.

    Args:
        config: the run's settings; ignored (may be ``None``) when resuming: the
            checkpoint's own configuration is used, so the result matches the
            uninterrupted run.
        out: run directory (created).
        resume: continue from ``out/checkpoints/last.pt``.
        stop_after: stop after this many epochs of this call, as an interruption
            would (the checkpoint is written; resume continues from it).
        progress: show a tqdm bar per epoch (rank 0 only).
        data: a loaded data split to use instead of loading ``config.data``.
        on_epoch: called with each epoch's metrics (rank 0 only).

    Returns:
        A :class:`RunResult`.

    Raises:
        FileNotFoundError: ``resume`` without a checkpoint in ``out``.
        FileExistsError: a fresh run into an ``out`` that already holds one.
    """
    t_start = time.perf_counter()
    out = Path(out)
    ckpt_dir = out / "checkpoints"
    ckpt = None
    if resume:
        last = ckpt_dir / "last.pt"
        if not last.is_file():
            raise FileNotFoundError(
                f"resume: {str(last)!r} does not exist; start the run without "
                "--resume, or point --out at the directory of an interrupted run."
            )
        ckpt = torch.load(last, map_location="cpu", weights_only=False)
        config = RunConfig.from_dict(ckpt["config"])
    elif (ckpt_dir / "last.pt").is_file():
        raise FileExistsError(
            f"{str(out)!r} already holds a run ({str(ckpt_dir / 'last.pt')!r}); "
            "continue it with --resume (resume=True), or choose a new --out so that "
            "its checkpoints, metrics and figures are not overwritten."
        )
    tc = config.train
    d = _setup_distributed(tc.device)
    try:
        return _train(
            config, out, ckpt, d, stop_after, progress, data, on_epoch, t_start
        )
    finally:
        if d.owned:
            dist.destroy_process_group()


def _train(
    config: RunConfig,
    out: Path,
    ckpt: dict[str, Any] | None,
    d: _Dist,
    stop_after: int | None,
    progress: bool,
    data: DataSplit | None,
    on_epoch: Callable[[dict[str, float]], None] | None,
    t_start: float,
) -> RunResult:
    tc = config.train
    device = resolve_device(tc.device, d.local_rank)
    if tc.threads:
        torch.set_num_threads(tc.threads)
    if config.train.batch_size % d.world:
        raise ValueError(
            f"TrainConfig.batch_size = {tc.batch_size} is not divisible by the "
            f"{d.world} DDP processes; pick a multiple of {d.world}."
        )
    data = data if data is not None else load_data(config.data)
    if len(data.classes) != config.model.n_classes:
        raise ValueError(
            f"ModelConfig.n_classes = {config.model.n_classes} but the data has "
            f"{len(data.classes)} classes {data.classes}; set --n-classes "
            f"{len(data.classes)} (the CLI does this for you)."
        )
    train_set, test_set = as_dataset(data.train), as_dataset(data.test)
    ckpt_dir = out / "checkpoints"
    if d.rank == 0:
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(config.to_dict(), indent=2))

    # --- model, optimiser, schedule (initial weights from the seed) ---
    torch.manual_seed(tc.seed)
    model = build_model(config.model).to(device)
    optimizer = torch.optim.Adam(
        model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=tc.epochs, eta_min=tc.lr_min
    )
    history: list[dict[str, float]] = []
    start_epoch, best_acc = 0, -1.0
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        _set_rng_state(ckpt["rng"])
        history = list(ckpt["history"])
        start_epoch, best_acc = int(ckpt["epoch"]) + 1, float(ckpt["best_acc"])
        log.info("resumed from epoch %d of %d", start_epoch, tc.epochs)
    net: nn.Module = model
    if d.world > 1:
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    sampler = DistributedSampler(
        train_set, num_replicas=d.world, rank=d.rank, shuffle=True, seed=tc.seed
    )
    loader = DataLoader(train_set, batch_size=tc.batch_size // d.world, sampler=sampler)
    n_neurons = config.model.n_neurons

    done = 0
    for epoch in range(start_epoch, tc.epochs):
        if stop_after is not None and done >= stop_after:
            log.info("stopping after %d epoch(s) as asked; resume to continue", done)
            break
        t_epoch = time.perf_counter()
        _seed_epoch(tc.seed, epoch, d.rank)
        sampler.set_epoch(epoch)
        w_aux = aux_weight(epoch, tc)
        net.train()
        # sums: loss, loss_main, loss_aux, correct_main, correct_aux, count, spikes
        sums = torch.zeros(7, dtype=torch.float64)
        bar = tqdm(
            loader,
            desc=f"epoch {epoch + 1}/{tc.epochs}",
            disable=not progress or d.rank != 0,
            leave=False,
        )
        for x, y in bar:
            x, y = x.to(device), y.to(device)
            o = net(x)
            loss_main = F.cross_entropy(o.logits, y)
            loss_aux = F.cross_entropy(o.aux_logits, y)
            loss = (1.0 - w_aux) * loss_main + w_aux * loss_aux
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if tc.grad_clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
            optimizer.step()
            b = len(y)
            losses = torch.stack([loss, loss_main, loss_aux]).detach()
            sums += torch.tensor(
                [
                    *(losses.double().cpu() * b).tolist(),
                    float((o.logits.argmax(1) == y).sum()),
                    float((o.aux_logits.argmax(1) == y).sum()),
                    b,
                    float(o.spikes.detach().sum()) / n_neurons,
                ],
                dtype=torch.float64,
            )
            bar.set_postfix(loss=f"{float(losses[0]):.3f}")
        bar.close()
        lr_epoch = optimizer.param_groups[0]["lr"]  # the rate this epoch trained at
        scheduler.step()
        sums = _all_sum(sums, d)
        n = sums[5].item()
        ev = evaluate(net, test_set, tc.eval_batch_size, device, d.rank, d.world)
        row = {
            "epoch": epoch + 1,
            "lr": lr_epoch,
            "aux_weight": w_aux,
            "train_loss": sums[0].item() / n,
            "train_loss_main": sums[1].item() / n,
            "train_loss_aux": sums[2].item() / n,
            "train_acc": sums[3].item() / n,
            "train_acc_aux": sums[4].item() / n,
            "train_spikes_per_neuron": sums[6].item() / n,
            **ev.metrics("test_"),
            "epoch_time_s": time.perf_counter() - t_epoch,
        }
        history.append(row)
        done += 1
        if d.rank == 0:
            log.info(
                "epoch %d/%d: test acc %.4f (main) %.4f (aux), %.2f spikes/neuron/"
                "sample, train loss %.4f, %.1f s",
                epoch + 1,
                tc.epochs,
                row["test_acc"],
                row["test_acc_aux"],
                row["test_spikes_per_neuron"],
                row["train_loss"],
                row["epoch_time_s"],
            )
            state = {
                "config": config.to_dict(),
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "rng": _rng_state(),
                "epoch": epoch,
                "history": history,
                "classes": data.classes,
            }
            if row["test_acc"] > best_acc:
                best_acc = row["test_acc"]
                torch.save({**state, "best_acc": best_acc}, ckpt_dir / "best.pt")
            torch.save({**state, "best_acc": best_acc}, ckpt_dir / "last.pt")
            _write_metrics(out, history)
            if on_epoch is not None:
                on_epoch(row)
        else:
            best_acc = max(best_acc, row["test_acc"])

    model.eval()
    final = dict(history[-1]) if history else {}
    complete = len(history) == tc.epochs
    if d.rank == 0 and complete:
        final["wall_time_s"] = time.perf_counter() - t_start
        final["world_size"] = d.world
        final["best_test_acc"] = best_acc
        final["device"] = str(device)
        (out / "summary.json").write_text(json.dumps(final, indent=2))
        if tc.figures:
            from .figures import write_run_figures

            write_run_figures(model, data, history, out / "figures", config, device)
    if d.world > 1:
        dist.barrier()
    return RunResult(out, history, final, model)
