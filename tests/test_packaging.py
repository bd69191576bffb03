"""Packaging: the wheel's layout, and what ``import shno_neurons`` pulls in.

The wheel is built from a copy of the packaging inputs (pyproject, README, the two
package folders) in a temporary directory, so the build leaves no ``build/`` or
``*.egg-info`` behind in the checkout. It runs without build isolation (the
installed setuptools builds it; no network needed) and takes ~10-30 s: marked
``slow``, and still run by the default ``python -m pytest``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGING_FILES = ("pyproject.toml", "README.md", "LICENSE", "MANIFEST.in", "setup.cfg")
PACKAGE_DIRS = ("shno_neurons", "adapters")


@pytest.mark.slow
def test_wheel_installs_adapters_inside_the_package(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in PACKAGING_FILES:
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in PACKAGE_DIRS:
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    out = tmp_path / "dist"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--skip-dependency-check",
            "--outdir",
            str(out),
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (wheel,) = out.glob("shno_neurons-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "shno_neurons/adapters/__init__.py" in names
    assert "shno_neurons/__init__.py" in names
    assert "shno_neurons/characterise.py" in names
    assert not [n for n in names if n.startswith("adapters/")]
    assert not [n for n in names if n.startswith("tests/")]


def test_import_does_not_load_plotting_vision_or_norse():
    code = (
        "import sys, shno_neurons, shno_neurons.characterise\n"
        "heavy = ('matplotlib', 'torchvision', 'norse')\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == ""
