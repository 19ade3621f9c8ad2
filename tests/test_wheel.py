"""The built wheel works on its own: installed into a fresh virtual environment outside the
repository, `encaisse demo`, `encaisse rules check` and =PENALTY find the bundled rules and workbooks.

How, and why this way (no network in tests, and well under a minute):
- the wheel is built from a copy of the sources in tmp_path (pyproject.toml, README.md, engine/,
  addin/, rules/, xlsx/), with `pip wheel --no-build-isolation --no-deps`: the build backend is the
  current environment's setuptools (in the `test` extra), so nothing is downloaded, and the
  checkout gets no build/ or egg-info folder;
- the fresh environment is made with `venv` (without pip) and the wheel installed into it by the
  current pip (`--python`, `--no-deps --no-index`): only the wheel's own files are installed
  (`--isolated`: pip reads no configuration of the machine, so no index is ever consulted);
- the runtime dependencies (pandas, python-calamine…) come from the current environment through
  a `.pth` file listing its site-packages folder. A path in a .pth file is appended to sys.path
  after the new environment's own site-packages, and the .pth files inside it are not run, so the
  editable install of this checkout (a finder installed by a .pth file there) stays inactive:
  `encaisse` is imported from the wheel, which the test checks;
- the commands run from an empty folder in tmp_path, with PYTHONPATH cleared.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "engine", "addin", "rules", "xlsx")


def _run(*cmd, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(the fresh environment's bin folder, its site-packages, an empty working folder, environment variables)."""
    base = tmp_path_factory.mktemp("roue")
    source = base / "source"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
        else:
            shutil.copy2(ROOT / name, source / name)
    built = _run(sys.executable, "-m", "pip", "--isolated", "wheel", "--no-build-isolation", "--no-deps", "--no-index", "-q",
                 "-w", base / "dist", source, cwd=base)
    assert built.returncode == 0, built.stdout + built.stderr
    wheels = list((base / "dist").glob("encaisse-*.whl"))
    assert [w.name for w in wheels] == ["encaisse-0.1.0-py3-none-any.whl"]

    env_dir = base / "env"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / ("python.exe" if os.name == "nt" else "python")
    site = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=base).stdout.strip())
    installed = _run(sys.executable, "-m", "pip", "--isolated", "--python", python, "install", "--no-deps", "--no-index", "-q", wheels[0], cwd=base)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    (site / "encaisse_test_dependances.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    work = base / "ailleurs"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV")}
    env["PATH"] = str(bin_dir) + os.pathsep + env.get("PATH", "")
    return bin_dir, python, site, work, env


def test_the_package_and_its_data_come_from_the_wheel(installed):
    _, python, site, work, env = installed
    script = ("import encaisse, encaisse.resources as r; "
              "print(encaisse.__file__); print(r.DEFAULT_RULES_DIR); print(r.DEMO_WORKBOOK); print(r.TEMPLATES_DIR)")
    run = _run(python, "-c", script, cwd=work, env=env)
    assert run.returncode == 0, run.stderr
    package = site / "encaisse"
    assert run.stdout.splitlines() == [str(package / "__init__.py"), str(package / "defaults" / "rules"),
                                       str(package / "defaults" / "xlsx" / "encaisse-demo.xlsx"),
                                       str(package / "defaults" / "rules" / "modeles")]
    assert sorted(p.name for p in (package / "defaults" / "rules").glob("*.yaml")) == [
        "conditions.yaml", "legal.yaml", "litiges.yaml", "relances.yaml", "risque.yaml", "scoring.yaml", "tresorerie.yaml"]
    assert sorted(p.name for p in (package / "defaults" / "rules" / "schema").iterdir()) == [
        f"{n}.schema.json" for n in ("conditions", "legal", "litiges", "relances", "risque", "scoring", "tresorerie")]
    assert {p.name for p in (package / "defaults" / "rules" / "modeles").iterdir()} == {
        p.name for p in (ROOT / "rules" / "modeles").iterdir()}
    assert (package / "defaults" / "xlsx" / "encaisse-modele.xlsx").read_bytes() == (ROOT / "xlsx" / "encaisse-modele.xlsx").read_bytes()
    assert str(ROOT) not in run.stdout


def test_demo_runs_from_anywhere(installed):
    bin_dir, _, site, work, env = installed
    run = _run(bin_dir / "encaisse", "demo", cwd=work, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "Atelier Dupont SAS — situation au 31/10/2026"
    assert f"Règles par défaut valides (7 fichiers, {site / 'encaisse' / 'defaults' / 'rules'})." in lines
    assert lines[-1].endswith("Le tableau de bord recalculé est dans out/encaisse-demo-recalcule.xlsx.")
    assert (work / "out" / "encaisse-demo-recalcule.xlsx").is_file()


def test_rules_check_of_the_bundled_rules(installed):
    bin_dir, _, site, work, env = installed
    for argv in (["rules", "check", str(site / "encaisse" / "defaults" / "rules")], ["rules", "check"]):
        run = _run(bin_dir / "encaisse", *argv, cwd=work, env=env)
        assert (run.returncode, run.stdout, run.stderr) == (0, "Règles valides : 7 fichiers\n", "")


def test_the_bundled_demo_finds_the_bundled_rules(installed):
    bin_dir, _, site, work, env = installed
    demo = site / "encaisse" / "defaults" / "xlsx" / "encaisse-demo.xlsx"
    run = _run(bin_dir / "encaisse", "rules", "explain", demo, "C0001", cwd=work, env=env)
    assert run.returncode == 0, run.stderr
    # DossierRegles is « ../rules », relative to the workbook: the wheel keeps rules/ beside xlsx/
    assert run.stdout.splitlines()[1] == f"Règles : {site / 'encaisse' / 'defaults' / 'rules'}"


def test_penalty_with_no_rules_folder(installed):
    _, python, _, work, env = installed
    script = ("import datetime as d; from encaisse.excel import FUNCTIONS; "
              "print(FUNCTIONS['PENALTY'](10000, d.date(2023, 5, 15), d.date(2023, 8, 14)))")
    run = _run(python, "-c", script, cwd=work, env=env)
    assert (run.returncode, run.stdout, run.stderr) == (0, "370.14\n", "")


def test_version_of_the_installed_distribution(installed):
    bin_dir, _, _, work, env = installed
    run = _run(bin_dir / "encaisse", "--version", cwd=work, env=env)
    assert (run.returncode, run.stdout) == (0, "encaisse 0.1.0\n")
