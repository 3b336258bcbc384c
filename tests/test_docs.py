"""The documentation site's code runs: every page's Python blocks as written, and its commands at
a few periods (the tutorials' own commands with flags that shorten them appended).

A page is run top to bottom in a scratch folder: a block with a title (```python title="x.py"```)
is written to that file, other Python blocks are executed, and each ``slicesim ...`` or ``python
examples/...`` line of a bash block is run. The site itself is built by ``.ci/run`` (``mkdocs
build --strict``).
"""

from __future__ import annotations

import importlib.util
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from slicesim.cli import main

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md"))
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```", re.S | re.M)
TITLE = re.compile(r'title="([^"]+)"')

# appended to each command of a page (argparse keeps the last value of a repeated option)
FEW = ["--periods", "12", "--seeds", "1", "--set", "sim.window_s=2", "--workers", "1", "--quiet"]
TRAIN = ["--steps", "72", "--episode-periods", "8", "--checkpoint-every", "0", "--eval-every", "0"]
SHORT = {
    "bench": FEW,
    "sweep": FEW,
    "train": [*TRAIN, "--set", "sim.window_s=2", "--quiet"],
    "simulate": ["--periods", "6", "--quiet"],
    "calibrate": ["--seeds", "1", "--quiet"],
}
KPI = ["--draws", "1", "--set", "sim.window_s=2"]  # calibrate --kpi: one draw of short windows
EXAMPLE = ["--replicas", "2", "--periods", "24", "--eval-periods", "3", "--window", "2"]
REQUIRED = {  # the tutorials the site promises (issue 19)
    "tutorials/custom-policy.md", "tutorials/td3.md", "tutorials/ppo-vector.md",
    "tutorials/sweeps.md", "tutorials/transfer.md", "tutorials/scenario.md",
    "tutorials/calibrate.md",
}  # fmt: skip


def blocks(page: str) -> list[tuple[str, str | None, str]]:
    """(language, title, code) of every fenced block of a page, in order."""
    text = (DOCS / page).read_text()
    out = []
    for lang, rest, code in FENCE.findall(text):
        title = TITLE.search(rest)
        out.append((lang, title.group(1) if title else None, code))
    return out


def run_command(line: str) -> None:
    """One line of a bash block, shortened; lines that start a Ray node are skipped."""
    args = shlex.split(line.split(" #")[0])
    if not args or args[0] == "ray":
        return
    if args[0] == "python":
        assert args[1].startswith("examples/"), line
        done = subprocess.run([sys.executable, str(ROOT / args[1]), *args[2:], *EXAMPLE],
                              capture_output=True, text=True, timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        return
    assert args[0] == "slicesim", f"a command the docs test does not know: {line}"
    args = args[1:]
    if "--executor" in args and args[args.index("--executor") + 1] == "ray":
        if importlib.util.find_spec("ray") is None:
            pytest.skip("ray is not installed")
        if "--address" in args:  # a local Ray instance instead of the cluster
            i = args.index("--address")
            del args[i : i + 2]
    extra = list(SHORT[args[0]])
    if args[0] == "calibrate" and "--kpi" in args:
        extra += KPI
    if args[0] in ("bench", "sweep") and "--executor" in args:
        extra += ["--workers", "2"]  # Ray: two CPUs
    assert main([*args, *extra]) == 0, line


def test_every_required_tutorial_is_a_page_of_the_site():
    assert REQUIRED <= set(PAGES)
    nav = (ROOT / "mkdocs.yml").read_text()
    for page in PAGES:
        assert page in nav, f"docs/{page} is not in mkdocs.yml's nav"


@pytest.mark.parametrize(
    "page", [p for p in PAGES if any(b[0] in ("python", "bash") for b in blocks(p))]
)
def test_the_code_of_the_page_runs(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))  # a page's own modules (titled blocks)
    for lang, title, code in blocks(page):
        if title is not None:
            (tmp_path / title).write_text(code)
        elif lang == "python":
            exec(compile(code, f"{page} block", "exec"), {"__name__": "__docs__"})
        elif lang == "bash":
            for line in code.splitlines():
                if "pip install" in line or line.startswith(("python -m pytest", "git clone")):
                    continue  # the set-up commands: CI runs exactly those
                run_command(line)
