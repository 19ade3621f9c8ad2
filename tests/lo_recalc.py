"""LibreOffice headless as an independent engine: recalculate a workbook and read its values.

Used by tests/test_recalc.py (cross-check) and bench/bench_recalc.py (timing). LibreOffice
by default keeps the cached values of an .xlsx it opens; a private user profile sets
"recalculate on load: always" so that every formula is computed by LibreOffice itself.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

_ALWAYS_RECALC = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="ODFRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""


def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def recalculate(book: Path, out_dir: Path, timeout: float = 3600) -> tuple[Path, float]:
    """Open `book` in LibreOffice, recalculate everything, save as .xlsx in `out_dir`; (path, seconds)."""
    exe = soffice()
    if exe is None:
        raise FileNotFoundError("soffice introuvable")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lo-profile-") as profile:
        user = Path(profile) / "user"
        user.mkdir()
        (user / "registrymodifications.xcu").write_text(_ALWAYS_RECALC, encoding="utf-8")
        started = time.perf_counter()
        done = subprocess.run(
            [exe, "--headless", "--norestore", "--nologo", f"-env:UserInstallation={Path(profile).as_uri()}",
             "--convert-to", "xlsx", "--outdir", str(out_dir), str(book)],
            capture_output=True, text=True, timeout=timeout,
        )
        seconds = time.perf_counter() - started
    result = out_dir / (Path(book).stem + ".xlsx")
    if done.returncode != 0 or not result.exists():
        raise RuntimeError(f"LibreOffice a échoué ({done.returncode}) : {done.stdout} {done.stderr}")
    return result, seconds
