"""Writing a file so that readers see the old content or the new one, never half of it.

Every file encaisse writes for a user (workbooks today; letters and the journal next) goes through
`atomic_path`: the writer fills a temporary file in the target's folder, which is flushed to disk
and then renamed onto the target. A replaced file keeps its permission bits; a new one gets the
usual ones (0o666 less the umask, like any file the user creates, so colleagues on a shared drive
can open it), not the private 0o600 of `tempfile.mkstemp`. On any failure the temporary file is
removed and the target is left as it was.
"""

from __future__ import annotations

import errno
import os
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from encaisse.errors import EncaisseError, os_reason


@contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """A fresh temporary path beside `target`, moved onto it when the block ends without error.

    The block writes the temporary file by its path (and closes it). Missing folders are created.
    """
    target = Path(target)
    if target.is_symlink() or (target.exists() and not target.is_file() and not target.is_dir()):
        # replacing a link, a device or a pipe by a regular file would break what it points to
        raise EncaisseError(f"Écriture refusée : {target} n'est pas un fichier ordinaire (lien, périphérique ou tube) : "
                            f"donnez le chemin d'un fichier")
    try:
        if target.is_dir():
            raise IsADirectoryError(errno.EISDIR, "", str(target))
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except FileExistsError:  # a file stands where a folder of the path should be
            raise NotADirectoryError(errno.ENOTDIR, "", str(target.parent)) from None
        temporary = _create_beside(target)
    except OSError as error:
        raise _cannot_write(target, error) from None
    try:
        if target.exists():
            os.chmod(temporary, target.stat().st_mode & 0o7777)
        yield temporary
        _flush_to_disk(temporary)
        os.replace(temporary, target)
    except BaseException as error:
        temporary.unlink(missing_ok=True)
        if isinstance(error, OSError) and error.filename in (str(temporary), str(target), temporary, target):
            raise _cannot_write(target, error) from None
        raise
    _flush_folder(target.parent)


def _cannot_write(target: Path, error: OSError) -> EncaisseError:
    return EncaisseError(f"Écriture impossible : {target} : {os_reason(error)}")


def _create_beside(target: Path) -> Path:
    # os.open applies the process's umask to 0o666 itself: no need to read (and reset) the umask,
    # which is process-wide state other threads may rely on.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        try:
            os.close(os.open(temporary, flags, 0o666))
            return temporary
        except FileExistsError:
            continue


def _flush_to_disk(path: Path) -> None:
    """fsync the written content, so a crash right after the rename cannot leave an empty file."""
    descriptor = os.open(path, os.O_RDWR | getattr(os, "O_BINARY", 0))
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _flush_folder(folder: Path) -> None:
    """fsync the folder so the rename itself is on disk (POSIX; Windows cannot open a folder)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
