"""Editing one part of a test workbook's zip, to build what a writer library will not (a false
dimension, an empty spill marker, an error stored in a cell): the other parts copied as they are."""

from __future__ import annotations

import zipfile
from pathlib import Path


def edit_part(source: Path, target: Path, member: str, *replacements: tuple[bytes, bytes]) -> bytes:
    """Copy `source` to `target` with each (old, new) replaced once in `member`; the edited part is returned
    (every `old` must be found: a test whose edit silently missed would prove nothing)."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == member:
                for old, new in replacements:
                    assert old in data, old
                    data = data.replace(old, new, 1)
                edited = data
            zout.writestr(info, data)
    return edited
