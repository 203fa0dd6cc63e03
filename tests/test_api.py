"""The public Python API, as an analyst in a notebook meets it: each stage's names import from the
package, `dir()` shows them, and every documented example (`>>>` in a docstring) runs.

The documented examples are found by reading the source, so an example added anywhere under
src/dacu runs here without being listed; docs/api.md lists the entry points they document.
"""

from __future__ import annotations

import ast
import doctest
import importlib
import io
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import typer

from tests.conftest import ROOT

SRC = ROOT / "src"
STAGES = [
    "dacu",
    "dacu.analyze",
    "dacu.analyze.fraud",
    "dacu.analyze.sentiment",
    "dacu.flash",
    "dacu.metadata",
    "dacu.metrics",
    "dacu.monitor",
    "dacu.plan",
    "dacu.promo",
    "dacu.report",
    "dacu.sim",
    "dacu.warehouse",
    "dacu.web",
]
# The entry points the issue names, as a notebook imports them (docs/api.md).
ENTRY_POINTS = {
    "quote": "dacu.promo",
    "build_plan": "dacu.plan",
    "explain": "dacu.analyze",
    "adtributor": "dacu.analyze",
    "score_events": "dacu.analyze",
    "open_store": "dacu.flash",
    "open_warehouse": "dacu.warehouse",
    "build_review": "dacu.report",
}


def _documented_modules() -> list[str]:
    modules = []
    for path in sorted((SRC / "dacu").rglob("*.py")):
        if ">>> " in path.read_text(encoding="utf-8"):
            parts = path.relative_to(SRC).with_suffix("").parts
            modules.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return modules


@pytest.mark.parametrize("package", STAGES)
def test_each_stage_exports_its_public_names(package: str) -> None:
    module = importlib.import_module(package)
    names = module.__all__
    assert names, f"{package} exports nothing"
    assert len(set(names)) == len(names), f"{package}.__all__ repeats a name"
    listed = dir(module)
    for name in names:
        value = getattr(module, name)  # a lazy name imports its module here
        assert value is not None, f"{package}.{name}"
        assert name in listed, f"dir({package}) hides {name}"
        if callable(value) and hasattr(value, "__module__") and name != "__version__":
            # the object is the one its own module defines: no stale copy, no shadowing module
            home = importlib.import_module(value.__module__)
            assert getattr(home, value.__name__) is value, f"{package}.{name}"
    namespace: dict = {}
    exec(f"from {package} import *", namespace)
    assert set(names) <= set(namespace), f"`from {package} import *` misses names"


def test_unknown_name_is_a_clear_attribute_error() -> None:
    import dacu.analyze

    with pytest.raises(AttributeError, match=r"'dacu.analyze' has no attribute 'adtributr'"):
        _ = dacu.analyze.adtributr


def test_the_entry_points_import_from_their_stage() -> None:
    from dacu.analyze import adtributor, explain
    from dacu.analyze.rca import adtributor as rca_adtributor

    assert adtributor is rca_adtributor
    for name, package in ENTRY_POINTS.items():
        function = getattr(importlib.import_module(package), name)
        doc = function.__doc__ or ""
        for heading in ("Parameters", "Returns"):
            if name != "adtributor":
                assert f"{heading}\n    ----" in doc, f"{package}.{name}: no {heading} section"
        if name != "adtributor":
            assert ">>> " in doc, f"{package}.{name} has no runnable example"
    assert callable(explain)


def test_api_doc_lists_every_entry_point() -> None:
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    for name, package in ENTRY_POINTS.items():
        assert f"from {package} import" in text and name in text, name


@pytest.mark.parametrize("module_name", _documented_modules())
def test_documented_examples_run(module_name: str) -> None:
    module = importlib.import_module(module_name)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    out = io.StringIO()
    found = [t for t in doctest.DocTestFinder().find(module) if t.examples]
    assert found, f"{module_name} mentions >>> but has no example doctest can find"
    for test in found:
        runner.run(test, out=out.write)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, out.getvalue()
    assert result.attempted >= 3


def test_the_documented_modules_include_every_entry_point() -> None:
    homes = {getattr(importlib.import_module(p), n).__module__ for n, p in ENTRY_POINTS.items()}
    assert homes <= set(_documented_modules())


def test_the_package_says_it_is_typed() -> None:
    assert (SRC / "dacu" / "py.typed").is_file()
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "py.typed" in config["tool"]["setuptools"]["package-data"]["dacu"]


def test_one_version_source() -> None:
    import dacu

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in config["project"]
    assert "version" in config["project"]["dynamic"]
    assert config["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "dacu.__version__"}
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## {dacu.__version__}" in changelog


def _type_checking_imports(package: str) -> dict[str, str]:
    """{name: module} imported under `if TYPE_CHECKING:` in the package's __init__.py."""
    path = SRC.joinpath(*package.split("."), "__init__.py")
    found: dict[str, str] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            for item in node.body:
                assert isinstance(item, ast.ImportFrom) and item.module
                found.update({alias.name: item.module for alias in item.names})
    return found


@pytest.mark.parametrize(
    "package", [p for p in STAGES if hasattr(importlib.import_module(p), "_LAZY")]
)
def test_lazy_names_agree_for_python_and_type_checkers(package: str) -> None:
    # a lazy name is listed three times (the import map, __all__, the imports mypy reads):
    # the three must agree, and each name must exist in its module
    module = importlib.import_module(package)
    assert _type_checking_imports(package) == module._LAZY
    assert sorted(module.__all__) == sorted(module._LAZY)
    for name, home in module._LAZY.items():
        assert hasattr(importlib.import_module(home), name), f"{home}.{name}"


def test_lazy_packages_stay_lazy() -> None:
    # importing the package must not import its heavy modules (the CLI's --help stays fast)
    code = (
        "import sys, dacu.analyze, dacu.plan, dacu.warehouse, dacu.monitor, dacu.web;"
        "heavy = [m for m in ('dacu.analyze.rca', 'dacu.plan.build', 'dacu.monitor.live',"
        " 'dacu.web.app', 'statsforecast', 'fastapi') if m in sys.modules];"
        "print(heavy)"
    )
    env_path = str(SRC)
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"},
    )
    assert out.stdout.strip() == "[]", out.stdout


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("dacu.analyze.fraud_features", "dacu.analyze.fraud.features"),
        ("dacu.analyze.fraud_graph", "dacu.analyze.fraud.graph"),
        ("dacu.analyze.sentiment_burst", "dacu.analyze.sentiment.burst"),
        ("dacu.analyze.sentiment_data", "dacu.analyze.sentiment.data"),
        ("dacu.analyze.sentiment_demo", "dacu.analyze.sentiment.demo"),
        ("dacu.analyze.commands_risk", "dacu.analyze.cli.fraud"),
        ("dacu.analyze.commands_sentiment", "dacu.analyze.cli.sentiment"),
        ("dacu.warehouse.metadata.alerts", "dacu.metadata.alerts"),
        ("dacu.warehouse.metadata.db", "dacu.metadata.db"),
    ],
)
def test_moved_modules_keep_their_old_import_path(old: str, new: str) -> None:
    # in a fresh interpreter, so neither name was imported before
    code = (
        f"import importlib, {old} as a, {new} as b; assert a is b, (a, b); "
        f"assert a.__name__ == a.__spec__.name == {new!r}; importlib.reload(a); print('ok')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
    )
    assert out.stdout.strip() == "ok", out.stderr


def test_the_metadata_package_keeps_its_old_path_for_one_release() -> None:
    import importlib

    import dacu.metadata as new

    with pytest.deprecated_call(match=r"import dacu\.metadata"):
        # reloaded, so it warns even when an earlier test imported it
        old = importlib.reload(importlib.import_module("dacu.warehouse.metadata"))
        from dacu.warehouse.metadata.models import AlertRow

    assert old.__all__ == new.__all__
    for name in new.__all__:
        assert getattr(old, name) is getattr(new, name), name
    assert AlertRow is new.models.AlertRow  # one set of tables, not a copy


def test_no_module_imports_the_old_metadata_path() -> None:
    # the shim is for callers outside dacu: its own modules import dacu.metadata
    shim = SRC / "dacu" / "warehouse" / "metadata"
    old = []
    for path in sorted((SRC / "dacu").rglob("*.py")):
        if shim in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            if isinstance(node, ast.ImportFrom) and node.module == "dacu.warehouse":
                names += [f"dacu.warehouse.{a.name}" for a in node.names]
            old += [
                f"{path.relative_to(SRC)}:{node.lineno}"
                for n in names
                if n.startswith("dacu.warehouse.metadata")
            ]
    assert not old, old


def test_one_hill_curve_for_the_simulator_and_the_planner() -> None:
    # the simulator's channels saturate on the very curve the planner fits: K and slope mean
    # the same in truth.json and in a fitted response curve
    from dacu.plan import response as planner
    from dacu.sim import response as simulator

    assert simulator.hill is planner.hill


def test_the_analyze_commands_are_registered_explicitly() -> None:
    # every command group module says what it adds; none registers itself by being imported
    from typer.main import get_group

    from dacu.analyze import cli
    from dacu.analyze.commands import analyze_app, register

    folder = Path(cli.__file__).parent
    for path in folder.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "@analyze_app" not in text, path.name
        if path.name != "__init__.py":
            assert "def register(" in text, path.name
    app = typer.Typer()
    register(app)
    names = set(get_group(analyze_app).commands)
    assert {"funnel", "retention", "recall", "recall-outcome", "bandit", "elasticity"} <= names
    assert {"markdown", "fraud", "sentiment", "attribution", "clv", "abtest"} <= names


def test_modules_are_split_by_meaning_not_by_size() -> None:
    # a "*_more.py" holds whatever did not fit in its sibling: split by concept instead
    assert not sorted((SRC / "dacu").rglob("*_more.py"))
