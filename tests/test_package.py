"""The package as a newcomer meets it: layers that only point down, a wheel with two names."""

from __future__ import annotations

import ast
import dataclasses
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# config -> sim -> envs -> rollout -> agents -> experiments/CLI; a module imports its layer or
# below. `slicesim` never imports `agents` at all: the experiments load agents by import string.
LAYERS = [
    ("slicesim.io", "slicesim.typed_config"),
    ("slicesim.profiles", "slicesim.config"),
    ("slicesim.sim",),
    ("slicesim.envs", "slicesim"),  # the facade `slicesim` registers the envs on import
    ("slicesim.rollout",),
    ("agents",),
    ("slicesim.experiments",),
    ("slicesim.cli",),
]


def layer(module: str) -> int:
    """Layer of a module: the longest matching prefix wins."""
    best, depth = -1, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > depth:
                best, depth = index, len(prefix)
    return best


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node except those under ``if TYPE_CHECKING:`` (annotations only, never run)."""
    out, stack = [], [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            stack.extend(node.orelse)
            continue
        out.append(node)
        stack.extend(ast.iter_child_nodes(node))
    return out


def imports(path: Path) -> set[str]:
    """Our modules that ``path`` imports when it runs (top level and inside functions)."""
    out: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            for alias in node.names:  # `from pkg import submodule`
                sub = ROOT.joinpath(*node.module.split("."), alias.name)
                if sub.with_suffix(".py").is_file() or (sub / "__init__.py").is_file():
                    names.append(f"{node.module}.{alias.name}")
        else:
            continue
        out.update(n for n in names if n.split(".")[0] in ("slicesim", "agents"))
    return out


def graph() -> dict[str, set[str]]:
    files = [*ROOT.joinpath("slicesim").rglob("*.py"), *ROOT.joinpath("agents").rglob("*.py")]
    return {module_name(f): imports(f) for f in files}


def test_layers_only_point_down():
    upward = [
        f"{mod} (layer {layer(mod)}) imports {dep} (layer {layer(dep)})"
        for mod, deps in graph().items()
        for dep in deps
        if layer(dep) > layer(mod)
    ]
    assert upward == []
    assert all(layer(m) >= 0 for m in graph())  # every module has a layer


def test_slicesim_never_imports_agents():
    """Not even lazily inside a function, nor for type checking: agents are plugins."""
    found = []
    for path in ROOT.joinpath("slicesim").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            found += [f"{module_name(path)}: {n}" for n in names if n.split(".")[0] == "agents"]
    assert found == []


@pytest.mark.parametrize(
    "statement", ["import agents.equal", "from agents.base import Agent", "from agents import run"]
)
def test_a_simple_agent_loads_neither_torch_nor_stable_baselines3(statement):
    check = (f"{statement}; import sys; heavy = {{'torch', 'stable_baselines3'}} & set(sys.modules);"
             " assert not heavy, heavy")  # fmt: skip
    subprocess.run([sys.executable, "-c", check], check=True, cwd=ROOT)


def test_config_imports_nothing_of_the_simulator():
    g = graph()
    assert not any(
        d.startswith("slicesim.sim") for d in g["slicesim.config"] | g["slicesim.profiles"]
    )


def test_no_import_cycle():
    g = graph()
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in sorted(g.get(node, ())):
            if dep == node or dep not in g:
                continue
            if state.get(dep) == 1:
                pytest.fail(f"import cycle: {' -> '.join([*path, node, dep])}")
            if dep not in state:
                visit(dep, [*path, node])
        state[node] = 2

    for node in sorted(g):
        if node not in state:
            visit(node, [])


def test_the_wheel_installs_slicesim_and_agents_only(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("slicesim-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"slicesim", "agents"}
    assert {"slicesim/scenarios/paper.yaml", "slicesim/scenarios/small.yaml"} <= set(names)
    assert "slicesim/py.typed" in names and "agents/py.typed" in names
    # every module of the source tree ships (a folder without __init__.py would be left out)
    modules = {p.relative_to(ROOT).as_posix() for top in ("slicesim", "agents")
               for p in ROOT.joinpath(top).rglob("*.py")}  # fmt: skip
    assert modules - set(names) == set()


def _network_privates() -> set[str]:
    """Underscore attributes and methods of ``Network`` (set on ``self`` or defined)."""
    tree = ast.parse(ROOT.joinpath("slicesim", "sim", "engine.py").read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Network")
    names = {f.name for f in cls.body if isinstance(f, ast.FunctionDef) and f.name[0] == "_"}
    for node in ast.walk(cls):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id == "self" and node.attr.startswith("_")):  # fmt: skip
            names.add(node.attr)
    return {n for n in names if not n.startswith("__")}


def test_only_the_engine_reads_the_networks_private_attributes():
    private = _network_privates()
    assert {"_rng", "_cell_util", "_prepare"} <= private  # the check sees Network's state
    found = []
    for path in [*ROOT.joinpath("slicesim").rglob("*.py"), *ROOT.joinpath("agents").rglob("*.py"),
                 *ROOT.joinpath("benchmarks").glob("*.py"), *ROOT.joinpath("examples").glob("*.py")]:  # fmt: skip
        if path == ROOT.joinpath("slicesim", "sim", "engine.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Attribute) and node.attr in private
                    and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))):  # fmt: skip
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} .{node.attr}")
    assert found == []


def test_the_tests_mirror_the_package():
    """Each folder of tests is a package folder: tests/sim for slicesim/sim, tests/agents/idla
    for agents/idla, and so on (the top level holds what spans them)."""
    folders = [p for p in ROOT.joinpath("tests").rglob("*") if p.is_dir() and p.name != "data"]
    folders = [p for p in folders if not p.name.startswith((".", "__"))]
    assert folders, "tests has no sub-packages"
    for folder in folders:
        rel = folder.relative_to(ROOT / "tests")
        mirror = [ROOT / "slicesim" / rel, ROOT / rel]
        assert any((m / "__init__.py").is_file() for m in mirror), f"tests/{rel} mirrors nothing"
        assert (folder / "__init__.py").is_file(), f"tests/{rel} is not a package"


def test_the_kpi_names_are_declared_once():
    """No second literal list of the KPI names in the packages: every consumer (the window's
    KPIs, the TTI reference, the env's info, the trajectory) derives them from KPI_FIELDS."""
    from slicesim.envs import make_env
    from slicesim.rollout import Trajectory
    from slicesim.sim.kpi import KPI_FIELDS, MEASURES, PeriodReport

    lists = []
    for path in sorted(ROOT.glob("slicesim/**/*.py")) + sorted(ROOT.glob("agents/**/*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
                names = {e.value for e in node.elts if isinstance(e, ast.Constant)}
                if len(names & set(KPI_FIELDS)) >= 3:
                    lists.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert lists == ["slicesim/sim/kpi.py:" + str(_line_of("KPI_FIELDS = ("))], lists
    env = make_env("small", config={"timeline.n_periods": 2, "sim.window_s": 2.0})
    env.reset(seed=0)
    info = env.step(env.action_space.sample() * 0.2)[-1]
    assert tuple(info["kpi"]) == KPI_FIELDS
    assert set(KPI_FIELDS) <= {f.name for f in dataclasses.fields(PeriodReport)}
    assert Trajectory.ARRAYS[-len(MEASURES) :] == MEASURES


def _line_of(text: str) -> int:
    lines = (ROOT / "slicesim/sim/kpi.py").read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.startswith(text))
