"""Data sets of the classifier: the embedded MNIST sample, torchvision IDX sets and
image folders, written as small files by the tests themselves."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from shno_neurons.adapters.data import (
    DataConfig,
    DataError,
    as_dataset,
    load_data,
    stratified_split,
)


def _write_idx(path: Path, array: np.ndarray) -> None:
    """An IDX (SN3 "Pascal Vincent") uint8 file as MNIST ships it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = struct.pack(">I", 0x0800 + array.ndim)
    header += b"".join(struct.pack(">I", s) for s in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def _write_mnist_layout(root: Path, name: str, n_train: int, n_test: int) -> dict:
    """Tiny train/test IDX files in torchvision's ROOT/NAME/raw layout.

    Image ``i`` of class ``c`` has pixel (0, 1) = 10 c + 1 and pixel (1, 0) = 0, so a
    transposition is visible.
    """
    rng = np.random.default_rng(0)
    out = {}
    for split, n, prefix in [("train", n_train, "train"), ("test", n_test, "t10k")]:
        labels = np.arange(n) % 10
        images = rng.integers(0, 50, size=(n, 28, 28)).astype(np.uint8)
        images[:, 0, 1] = 10 * labels + 1
        images[:, 1, 0] = 0
        raw = root / name / "raw"
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
        out[split] = (images, labels)
    return out


# --------------------------------------------------------------------- embedded
def test_embedded_default_is_stratified_deterministic_and_disjoint():
    split = load_data(DataConfig())
    assert split.classes == ["0", "1", "2", "3"]
    # 500 images per class, 20 % of each held out.
    assert torch.bincount(split.train.labels).tolist() == [400] * 4
    assert torch.bincount(split.test.labels).tolist() == [100] * 4
    assert split.train.images.shape == (1600, 28, 28)
    assert split.train.images.dtype == torch.uint8
    # Real digits: ink covers roughly 10-25 % of an MNIST image.
    ink = (split.train.images > 128).float().mean().item()
    assert 0.05 < ink < 0.3
    again = load_data(DataConfig())
    assert torch.equal(split.test.images, again.test.images)
    # No test image appears in the training set.
    train_rows = {bytes(x.numpy().tobytes()) for x in split.train.images}
    assert not any(bytes(x.numpy().tobytes()) in train_rows for x in split.test.images)
    other = load_data(DataConfig(split_seed=1))
    assert not torch.equal(split.test.images, other.test.images)


def test_embedded_classes_by_name_renumber_in_given_order():
    split = load_data(DataConfig(classes=("7", "2"), limit_per_class=30))
    assert split.classes == ["7", "2"]
    assert torch.bincount(split.train.labels).tolist() == [30, 30]
    # Label 0 is the digit 7: compare with the same images picked alone.
    sevens = load_data(DataConfig(classes=("7", "3"), limit_per_class=30))
    assert torch.equal(
        split.train.images[split.train.labels == 0],
        sevens.train.images[sevens.train.labels == 0],
    )


def test_as_dataset_scales_to_unit_interval():
    split = load_data(DataConfig(limit_per_class=5))
    x, y = as_dataset(split.train).tensors
    assert x.shape == (20, 1, 28, 28) and x.dtype == torch.float32
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    assert y.dtype == torch.int64


def test_stratified_split_keeps_a_sample_per_side():
    from shno_neurons.adapters.data import ImageSet

    images = ImageSet(
        torch.zeros(6, 28, 28, dtype=torch.uint8), torch.tensor([0] * 3 + [1] * 3)
    )
    train, test = stratified_split(images, 0.01, 0)
    assert torch.bincount(test.labels).tolist() == [1, 1]
    assert torch.bincount(train.labels).tolist() == [2, 2]


@pytest.mark.parametrize(
    "classes, match",
    [
        (("3", "x"), "'x' is neither a class name nor an index"),
        (("3",), "at least two"),
        (("3", "3"), "twice"),
        (("0", "12"), "indices 0 to 9"),
    ],
)
def test_bad_classes_raise_clear_errors(classes, match):
    with pytest.raises(DataError, match=match):
        load_data(DataConfig(classes=classes))


def test_bad_config_values_raise():
    with pytest.raises(ValueError, match="test_fraction"):
        DataConfig(test_fraction=1.0)
    with pytest.raises(ValueError, match="limit_per_class"):
        DataConfig(limit_per_class=-1)


# ------------------------------------------------------------------ torchvision
@pytest.mark.parametrize("name, folder", [("mnist", "MNIST"), ("kmnist", "KMNIST")])
def test_torchvision_idx_layout_is_read(tmp_path, name, folder):
    written = _write_mnist_layout(tmp_path, folder, 40, 20)
    cfg = DataConfig(
        dataset=name, root=str(tmp_path), download=False, classes=("1", "4")
    )
    split = load_data(cfg)
    tr_images, tr_labels = written["train"]
    # Grouped by class in the order asked for, source order kept within a class.
    expected = np.concatenate([tr_images[tr_labels == 1], tr_images[tr_labels == 4]])
    assert torch.equal(split.train.images, torch.from_numpy(expected))
    assert split.train.labels.tolist() == [0] * 4 + [1] * 4
    names = getattr(torchvision.datasets, folder).classes
    assert split.classes == [names[1], names[4]]
    assert len(split.test.labels) == 4


def test_emnist_images_are_transposed_back(tmp_path):
    # EMNIST digits split: files named emnist-digits-*, stored transposed.
    rng = np.random.default_rng(1)
    raw = tmp_path / "EMNIST" / "raw"
    for split, n in [("train", 20), ("test", 10)]:
        labels = np.arange(n) % 10
        images = rng.integers(0, 50, size=(n, 28, 28)).astype(np.uint8)
        images[:, 1, 0] = 200  # after the fix this pixel is at (0, 1)
        images[:, 0, 1] = 0
        _write_idx(raw / f"emnist-digits-{split}-images-idx3-ubyte", images)
        _write_idx(raw / f"emnist-digits-{split}-labels-idx1-ubyte", labels)
    split = load_data(
        DataConfig(dataset="emnist", root=str(tmp_path), download=False, classes=())
    )
    assert len(split.classes) == 10
    assert (split.train.images[:, 0, 1] == 200).all()
    assert (split.train.images[:, 1, 0] == 0).all()


def test_missing_torchvision_set_says_where_to_put_it(tmp_path):
    cfg = DataConfig(dataset="fashionmnist", root=str(tmp_path), download=False)
    with pytest.raises(DataError, match="FashionMNIST/raw") as err:
        load_data(cfg)
    assert "download is off" in str(err.value)


def test_corrupt_idx_file_is_reported(tmp_path):
    _write_mnist_layout(tmp_path, "MNIST", 20, 10)
    bad = tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte"
    bad.write_bytes(b"\x00\x00\x99\x99" + bad.read_bytes()[4:])
    cfg = DataConfig(dataset="mnist", root=str(tmp_path), download=False)
    with pytest.raises(DataError, match="cannot be read"):
        load_data(cfg)


# ----------------------------------------------------------------- image folder
def _write_folder(root: Path, sizes=((40, 30), (17, 17), (64, 48))) -> None:
    for c, color in [("cats", (255, 0, 0)), ("dogs", (0, 0, 255))]:
        (root / c).mkdir(parents=True)
        for i, size in enumerate(sizes * 2):
            mode = "RGB" if i % 2 == 0 else "RGBA"
            img = Image.new(mode, size, color + ((255,) if mode == "RGBA" else ()))
            img.save(root / c / f"{i}.png")


def test_image_folder_of_any_size_and_colour_becomes_28x28_gray(tmp_path):
    _write_folder(tmp_path)
    split = load_data(DataConfig(dataset=str(tmp_path), classes=(), test_fraction=0.34))
    assert split.classes == ["cats", "dogs"]
    assert split.train.images.shape[1:] == (28, 28)
    assert torch.bincount(split.test.labels).tolist() == [2, 2]
    assert torch.bincount(split.train.labels).tolist() == [4, 4]
    # Pure red and pure blue become uniform gray levels (ITU-R 601-2 luma).
    cats = split.train.images[split.train.labels == 0].float()
    dogs = split.train.images[split.train.labels == 1].float()
    assert cats.std() == 0 and dogs.std() == 0
    assert cats[0, 0, 0].item() == pytest.approx(0.299 * 255, abs=1.5)
    assert dogs[0, 0, 0].item() == pytest.approx(0.114 * 255, abs=1.5)


def test_image_folder_errors(tmp_path):
    with pytest.raises(DataError, match="neither 'embedded'"):
        load_data(DataConfig(dataset=str(tmp_path / "nope"), classes=()))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no readable class folders"):
        load_data(DataConfig(dataset=str(tmp_path / "empty"), classes=()))
    _write_folder(tmp_path / "broken")
    (tmp_path / "broken" / "dogs" / "bad.png").write_bytes(b"not a png at all")
    with pytest.raises(DataError, match="bad.png"):
        load_data(DataConfig(dataset=str(tmp_path / "broken"), classes=()))
