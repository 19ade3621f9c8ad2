#!/usr/bin/env python3
"""Set-up and run in one command, on a machine that has only python3.

    python3 dev.py demo     # creates .venv, installs encaisse, runs `encaisse demo`
    python3 dev.py test     # creates .venv, installs encaisse with its test tools, runs pytest

Any further arguments go to the command (`python3 dev.py test -k ledger`).
Only the standard library is used here, so it runs before anything is installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")


def _run(*cmd: str | Path) -> None:
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT)


def ensure_venv(extra: str) -> None:
    python = BIN / "python"
    if not python.exists():
        print(f"Création de l'environnement virtuel {VENV} ...", flush=True)
        try:
            venv.EnvBuilder(with_pip=True).create(VENV)
        except Exception:  # Debian's python3 without python3-venv has no ensurepip
            shutil.rmtree(VENV, ignore_errors=True)
            if shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
                _run("apt-get", "update", "-qq")
                _run("apt-get", "install", "-y", "-qq", "python3-venv")
                venv.EnvBuilder(with_pip=True).create(VENV)
            else:
                sys.exit("python3 -m venv n'est pas disponible : installez le paquet python3-venv "
                         "(sudo apt-get install python3-venv) puis relancez.")
    print("Installation d'encaisse et de ses dépendances ...", flush=True)
    _run(python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-e", f".[{extra}]" if extra else ".")
    # An editable install leaves the sources uncompiled (pip compiles only what it copies), and with
    # PYTHONDONTWRITEBYTECODE set Python would compile them again on every run: do it once here.
    _run(python, "-m", "compileall", "-q", "engine", "addin")


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"demo", "test"}:
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    if command == "demo":
        ensure_venv("")
        return subprocess.run([str(BIN / "encaisse"), "demo", *rest], cwd=ROOT).returncode
    ensure_venv("test")
    return subprocess.run([str(BIN / "python"), "-m", "pytest", *rest], cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
