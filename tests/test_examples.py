"""Every example runs, as a user runs it, in its quick mode.

Each script in ``examples/`` is started in a subprocess with ``--quick`` (and
``SHNO_EXAMPLES_QUICK=1``) in a temporary folder; the test checks the exit status, the
files it promises to write and the numbers it prints, and that it emits no warning
(Norse's own import-time FutureWarning aside). The notebook is executed with nbclient
in the same quick mode, and its library calls are checked against the script's.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SCRIPTS = sorted(EXAMPLES.glob("*.py"))

#: Warnings from dependencies we cannot fix (pyproject's filterwarnings has the same).
KNOWN_WARNINGS = ("`torch.jit.script` is deprecated",)


def _env() -> dict[str, str]:
    env = dict(os.environ, SHNO_EXAMPLES_QUICK="1", MPLBACKEND="Agg")
    env.setdefault("OMP_NUM_THREADS", "2")
    return env


def run_example(name: str, cwd: Path, *extra: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name), "--quick", *extra],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def _unexpected_warnings(stderr: str) -> list[str]:
    lines = stderr.splitlines()
    return [
        line
        for line in lines
        if re.search(r"\w+Warning\b", line)
        and not any(known in line for known in KNOWN_WARNINGS)
    ]


def test_every_example_is_tested():
    tested = {
        "snntorch_drop_in.py",
        "norse_drop_in.py",
        "hybrid_classifier.py",
        "lif_vs_shno.py",
        "device_characterisation.py",
    }
    assert {p.name for p in SCRIPTS} == tested
    for script in SCRIPTS:
        text = script.read_text()
        assert '"--quick"' in text and "SHNO_EXAMPLES_QUICK" in text, script.name
        assert ast.get_docstring(ast.parse(text)), f"{script.name} has no docstring"


@pytest.mark.slow
def test_snntorch_drop_in(tmp_path: Path):
    proc = run_example("snntorch_drop_in.py", tmp_path)
    m = re.search(r"shno: final test accuracy ([\d.]+) %", proc.stdout)
    assert m, proc.stdout
    assert 0.0 <= float(m.group(1)) <= 100.0
    assert "epoch 1:" in proc.stdout
    assert not _unexpected_warnings(proc.stderr), proc.stderr


@pytest.mark.slow
def test_norse_drop_in(tmp_path: Path):
    proc = run_example("norse_drop_in.py", tmp_path, "--out", "raster.png")
    assert re.search(r"shno: final test accuracy [\d.]+ %", proc.stdout), proc.stdout
    assert (tmp_path / "raster.png").stat().st_size > 1000
    assert not _unexpected_warnings(proc.stderr), proc.stderr


@pytest.mark.slow
def test_hybrid_classifier(tmp_path: Path):
    proc = run_example("hybrid_classifier.py", tmp_path, "--out", "run")
    run = tmp_path / "run"
    summary = json.loads((run / "summary.json").read_text())
    assert 0.0 <= summary["test_acc"] <= 1.0
    assert (run / "checkpoints" / "best.pt").is_file()
    for name in ["curves", "raster", "readout", "physical", "one_image"]:
        assert (run / "figures" / f"{name}.png").stat().st_size > 1000, name
    # The reloaded best checkpoint reproduces the run's best test accuracy.
    m = re.search(r"best checkpoint: test accuracy ([\d.]+) %", proc.stdout)
    assert m, proc.stdout
    assert abs(float(m.group(1)) - 100 * summary["best_test_acc"]) < 0.051
    assert not _unexpected_warnings(proc.stderr), proc.stderr


@pytest.mark.slow
def test_lif_vs_shno(tmp_path: Path):
    proc = run_example("lif_vs_shno.py", tmp_path, "--out", "fi.png")
    assert (tmp_path / "fi.png").stat().st_size > 1000
    rows = [
        line.split()
        for line in proc.stdout.splitlines()
        if re.match(r"^\s*\d+\.\d\d\s", line)
    ]
    table = {float(r[0]): [float(x) for x in r[1:]] for r in rows}
    # Every model is silent at zero and at one rheobase, and fires at three.
    assert table[0.0] == [0.0, 0.0, 0.0] and table[1.0] == [0.0, 0.0, 0.0]
    assert all(rate > 0 for rate in table[3.0])
    assert "SHNO peak rate" in proc.stdout
    assert not _unexpected_warnings(proc.stderr), proc.stderr


@pytest.mark.slow
def test_device_characterisation(tmp_path: Path):
    # The script itself exits non-zero when the sweep misses j_c by more than 5 %.
    proc = run_example("device_characterisation.py", tmp_path, "--out", "fj.png")
    assert (tmp_path / "fj.png").stat().st_size > 1000
    m = re.search(
        r"threshold from the sweep \S+ A/m\^2, ([\d.]+) % from j_c", proc.stdout
    )
    assert m and float(m.group(1)) < 5.0, proc.stdout
    assert "Kittel frequency        8.122 GHz" in proc.stdout
    assert not _unexpected_warnings(proc.stderr), proc.stderr


# ------------------------------------------------------------------- the notebook
NOTEBOOK = EXAMPLES / "hybrid_classifier.ipynb"


def _library_names(source: str) -> set[str]:
    """Names imported from shno_neurons plus attribute calls on those names."""
    tree = ast.parse(source)
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "shno_neurons"
        ):
            imported |= {a.asname or a.name for a in node.names}
    used = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name) and f.id in imported:
                used.add(f.id)
            elif (
                isinstance(f, ast.Attribute)
                and isinstance(f.value, ast.Name)
                and f.value.id in imported
            ):
                used.add(f"{f.value.id}.{f.attr}")
    return used


def _notebook_code() -> str:
    """The notebook's code cells as one Python source (IPython magics dropped)."""
    nb = json.loads(NOTEBOOK.read_text())
    code = "\n\n".join(
        "".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"
    )
    return "\n".join(
        line for line in code.splitlines() if not line.lstrip().startswith("%")
    )


def test_notebook_is_valid_and_matches_the_script():
    nbformat = pytest.importorskip("nbformat")
    nbformat.validate(nbformat.read(NOTEBOOK, as_version=4))
    script = _library_names((EXAMPLES / "hybrid_classifier.py").read_text())
    notebook = _library_names(_notebook_code())
    assert script == notebook, (
        f"only in the script: {sorted(script - notebook)}; "
        f"only in the notebook: {sorted(notebook - script)}"
    )
    assert {"train", "build_model", "load_checkpoint", "evaluate"} <= notebook


@pytest.mark.slow
@pytest.mark.skipif(
    not all(importlib.util.find_spec(m) for m in ("nbformat", "nbclient", "ipykernel")),
    reason="nbformat, nbclient and ipykernel are needed to execute the notebook",
)
def test_notebook_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import nbformat
    from nbclient import NotebookClient

    for key, value in _env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("SHNO_EXAMPLES_OUT", str(tmp_path / "run"))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 6  # sample digits, five run figures, one-image panel
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "best checkpoint: test accuracy" in text
    assert (tmp_path / "run" / "summary.json").is_file()
