"""The package's shape is checked, not only described: import-linter's contracts (pyproject.toml)
hold, a wrong-way import makes them fail, and no module imports itself back through another."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path(__import__("encaisse").__file__).resolve().parent


def _lint_imports(cwd: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    script = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    return subprocess.run([sys.executable, "-c", script, "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True)


def test_import_contracts_hold():
    run = _lint_imports(ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 kept, 0 broken" in run.stdout


def test_a_wrong_way_import_breaks_the_contracts(tmp_path):
    copy = tmp_path / "src" / "encaisse"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "defaults"))
    (copy / "kpi" / "planted.py").write_text("from encaisse.report import kpi_report  # a computation importing the text report\n")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    run = _lint_imports(tmp_path, pythonpath=tmp_path / "src")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "encaisse.kpi.planted -> encaisse.report" in run.stdout.replace("\n", " ")


def test_no_import_cycle():
    graph = grimp.build_graph("encaisse")
    cycles = []
    for importer in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(importer):
            if imported.startswith("encaisse") and graph.find_shortest_chain(imported, importer):
                cycles.append(f"{importer} -> {imported}")
    assert cycles == []
