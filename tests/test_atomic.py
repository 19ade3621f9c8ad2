"""The one atomic writer: new files get the usual permissions, replaced files keep theirs, nothing
is left behind on failure; recalc and template write through it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from encaisse.atomic import atomic_path
from encaisse.cli import main
from encaisse.errors import EncaisseError
from encaisse.workbook import splice

from test_recalc import build, values


@pytest.fixture
def umask():
    """Set a umask for one test and put the previous one back."""
    previous = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_a_new_file_gets_0666_less_the_umask(tmp_path, umask, mask, expected):
    umask(mask)
    target = tmp_path / "nouveau.txt"
    with atomic_path(target) as temporary:
        temporary.write_text("contenu")
    assert (target.read_text(), mode(target)) == ("contenu", expected)
    assert [p.name for p in tmp_path.iterdir()] == ["nouveau.txt"]


def test_a_replaced_file_keeps_its_mode(tmp_path, umask):
    umask(0o022)
    target = tmp_path / "classeur.xlsx"
    target.write_text("ancien")
    target.chmod(0o600)
    with atomic_path(target) as temporary:
        temporary.write_text("nouveau")
    assert (target.read_text(), mode(target)) == ("nouveau", 0o600)


def test_a_failure_leaves_the_target_and_no_temporary_file(tmp_path):
    target = tmp_path / "classeur.xlsx"
    target.write_text("ancien")
    with pytest.raises(RuntimeError, match="plantage"):
        with atomic_path(target) as temporary:
            temporary.write_text("moitié")
            raise RuntimeError("plantage")
    assert target.read_text() == "ancien"
    assert [p.name for p in tmp_path.iterdir()] == ["classeur.xlsx"]


def test_missing_folders_are_created_and_an_unwritable_folder_is_a_french_error(tmp_path):
    with atomic_path(tmp_path / "a" / "b" / "c.txt") as temporary:
        temporary.write_text("x")
    assert (tmp_path / "a" / "b" / "c.txt").read_text() == "x"
    (tmp_path / "dossier.xlsx").mkdir()
    with pytest.raises(EncaisseError) as caught:
        with atomic_path(tmp_path / "dossier.xlsx"):
            pass
    assert str(caught.value) == f"Écriture impossible : {tmp_path / 'dossier.xlsx'} : c'est un dossier"


def test_the_temporary_file_is_synced_before_the_rename(tmp_path, monkeypatch):
    synced: list[str] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(os.readlink(f"/proc/self/fd/{fd}")), real_fsync(fd)))
    target = tmp_path / "x.txt"
    with atomic_path(target) as temporary:
        temporary.write_text("x")
        name = str(temporary)
    assert synced[0] == name and synced[-1] == str(tmp_path)


def test_recalc_to_a_new_file_gives_it_the_usual_mode(tmp_path, umask):
    umask(0o022)
    book = build(tmp_path / "b.xlsx", [("A1", "=SUM(Factures[Montant TTC])")])
    out = tmp_path / "nouveau.xlsx"
    assert main(["recalc", str(book), "-o", str(out)]) == 0
    assert (values(out)[0][0], mode(out)) == (1630.5, 0o644)
    book.chmod(0o640)
    assert main(["recalc", str(book)]) == 0  # in place: the workbook keeps its mode
    assert mode(book) == 0o640


def test_template_and_splice_write_through_the_one_helper():
    assert splice.atomic_path is atomic_path
    from encaisse.authoring import template

    assert template.atomic_path is atomic_path
    assert not hasattr(template, "_atomic_path")


def test_template_new_file_mode(tmp_path, umask):
    umask(0o027)
    assert main(["template", str(tmp_path / "m.xlsx")]) == 0
    assert mode(tmp_path / "m.xlsx") == 0o640
