"""The documentation builds without warnings, and every code block in it runs.

* :func:`test_sphinx_build` builds the site with ``sphinx-build -W`` (warnings are
  errors), as CI does; it skips only when Sphinx, furo or MyST are not installed.
* :func:`test_code_blocks` extracts every fenced ```` ```python ```` block of
  ``README.md`` and of each page under ``docs/`` and runs the blocks of one page in
  order, in one namespace, in a temporary folder, with pytest's warnings-as-errors in
  force. A block opts out only by being a shell block (```` ```bash ````,
  ```` ```console ````, ```` ```text ````); any other fence language fails
  :func:`test_fence_languages`, so a misspelt ```` ```py ```` cannot silently skip.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

#: Fence languages that are not executed: shell commands and plain text.
SHELL = {"bash", "console", "sh", "shell", "text"}
#: MyST directives written as fences (``{toctree}``, ``{eval-rst}``, ...).
DIRECTIVE = re.compile(r"^\{[\w:-]+\}")

_FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})(?P<info>[^\n`]*)$")


def pages() -> list[Path]:
    """README.md and every Markdown page of the documentation."""
    found = sorted(p for p in DOCS.rglob("*.md") if "_build" not in p.parts)
    return [ROOT / "README.md", *found]


def fenced_blocks(text: str) -> list[tuple[str, int, str]]:
    """``(language, first line number, code)`` of every fenced block in ``text``."""
    blocks = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, info = m.group("fence"), m.group("info").strip()
        start = i + 1
        j = start
        while j < len(lines) and not lines[j].startswith(fence):
            j += 1
        if j == len(lines):
            raise ValueError(f"unclosed code fence opened at line {i + 1}")
        blocks.append(
            (info.split()[0] if info else "", start + 1, "\n".join(lines[start:j]))
        )
        i = j + 1
    return blocks


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_fenced_blocks_parser():
    text = "a\n```python\nx = 1\n```\n\n```bash\nls\n```\n````{toctree}\nb\n````\n"
    assert fenced_blocks(text) == [
        ("python", 3, "x = 1"),
        ("bash", 7, "ls"),
        ("{toctree}", 10, "b"),
    ]
    with pytest.raises(ValueError, match="unclosed"):
        fenced_blocks("```python\nx = 1\n")


@pytest.mark.parametrize("page", pages(), ids=_rel)
def test_fence_languages(page: Path):
    for lang, line, _ in fenced_blocks(page.read_text()):
        assert lang == "python" or lang in SHELL or DIRECTIVE.match(lang), (
            f"{_rel(page)}:{line}: fence language {lang!r} is neither python (run by "
            f"this test) nor a shell/text block {sorted(SHELL)}; name it properly."
        )


def _python_pages() -> list[Path]:
    return [
        p
        for p in pages()
        if any(lang == "python" for lang, _, _ in fenced_blocks(p.read_text()))
    ]


@pytest.mark.parametrize("page", _python_pages(), ids=_rel)
def test_code_blocks(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    try:
        for lang, line, code in fenced_blocks(page.read_text()):
            if lang != "python":
                continue
            compiled = compile(code, f"{_rel(page)}:{line}", "exec")
            exec(compiled, namespace)
    finally:
        plt.close("all")


def _have(*modules: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in modules)


def test_every_page_in_a_toctree():
    """Sphinx warns about orphan pages; name the culprit here first."""
    index_texts = {p: p.read_text() for p in DOCS.rglob("*.md") if p.name == "index.md"}
    for page in DOCS.rglob("*.md"):
        if page.name == "index.md" and page.parent == DOCS or "_build" in page.parts:
            continue
        parent_index = page.parent / "index.md"
        if page.name == "index.md":
            parent_index = page.parent.parent / "index.md"
        entry = page.parent.name + "/index" if page.name == "index.md" else page.stem
        assert entry in index_texts.get(parent_index, ""), (
            f"{_rel(page)} is not listed in the toctree of {_rel(parent_index)}"
        )


@pytest.mark.slow
@pytest.mark.skipif(
    not _have("sphinx", "furo", "myst_parser"),
    reason="sphinx, furo and myst-parser are needed (pip install -e '.[docs]')",
)
def test_sphinx_build(tmp_path: Path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-q",
            "-b",
            "html",
            "-d",
            str(tmp_path / "doctrees"),
            str(DOCS),
            str(tmp_path / "html"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-8000:]
    html = tmp_path / "html"
    for name in ["index", "getting-started", "physics", "api", "guides/index"]:
        assert (html / f"{name}.html").is_file(), name
    api = (html / "api.html").read_text()
    # autodoc really ran: a public name of each layer has its entry.
    for name in [
        "shno_neurons.parameters.SHNOParameters",
        "shno_neurons.functional.shno_step",
        "shno_neurons.snntorch.SHNO",
        "shno_neurons.norse.SHNOCell",
        "shno_neurons.adapters.training.train",
    ]:
        assert f'id="{name}"' in api, name
    # Package-level names (shno_neurons.SHNOParameters) link to their home module.
    guide = (html / "guides" / "snntorch.html").read_text()
    assert "../api.html#shno_neurons.parameters.SHNOParameters" in guide
