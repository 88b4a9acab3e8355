"""Writing a user's file: an edit landing at any step is kept, a kill -9 at any step leaves the
file whole and nothing the next write does not clear, a full disk leaves no false backup, side
files are numbered. Real files, a real subprocess killed with SIGKILL, a real full tmpfs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alphaquant import safe_write
from alphaquant.file_text import Layout, decode, encode

OLD = "Lemma a : 2 = 2.\nProof.\nAdmitted.\n"
NEW = "Lemma a : 2 = 2.\nProof.\n  reflexivity.\nQed.\n"
STEPS = ["backup-temp", "backup", "temp", "swap", "swapped", "checked", "written"]
ROOT = Path(__file__).resolve().parent.parent


def exchange_works() -> bool:
    """Whether renameat2(RENAME_EXCHANGE) works where pytest keeps its temporary files."""
    with tempfile.TemporaryDirectory() as d:
        a, b = Path(d, "a"), Path(d, "b")
        a.write_text("a")
        b.write_text("b")
        return safe_write.exchange(a, b) and (a.read_text(), b.read_text()) == ("b", "a")


needs_exchange = pytest.mark.skipif(
    not exchange_works(), reason="renameat2(RENAME_EXCHANGE) is refused on this file system "
                                 "(the hard-link fallback is tested on its own)")


def entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def at_step(monkeypatch):
    """Run a function at one named step of the next write (the hook the module offers tests)."""
    def install(step: str, action) -> list[str]:
        seen: list[str] = []

        def hook(name: str) -> None:
            seen.append(name)
            if name == step:
                action()
        monkeypatch.setattr(safe_write, "at_step", hook)
        return seen
    return install


# --- the file's bytes ---------------------------------------------------------------------


@given(st.booleans(), st.text(alphabet="ab\r\n\u00e9\ufeff", max_size=30))
@settings(max_examples=500, deadline=None)
def test_decode_then_encode_gives_the_same_bytes(bom, text):
    data = (("\ufeff" if bom else "") + text).encode("utf-8")
    assert encode(*decode(data)) == data


def test_crlf_and_bom_are_read_as_lf_and_put_back(tmp_path):
    text, layout = decode(b"\xef\xbb\xbfLemma a.\r\nProof.\r\n")
    assert (text, layout) == ("Lemma a.\nProof.\n", Layout(bom=True, crlf=True))
    mixed = "a\r\nb\nc\r\n"
    assert decode(mixed.encode()) == (mixed, Layout())  # mixed endings are read as they are
    target = tmp_path / "T.v"
    target.write_bytes(encode(OLD, Layout(bom=True, crlf=True)))
    safe_write.write_file(target, NEW, expected=OLD)
    assert target.read_bytes() == b"\xef\xbb\xbf" + NEW.replace("\n", "\r\n").encode()
    assert decode((tmp_path / "T.v.orig.bak").read_bytes()) == (OLD, Layout(True, True))


# --- an edit at any moment ----------------------------------------------------------------


@needs_exchange
def test_an_edit_in_place_at_the_swap_is_kept(tmp_path, at_step):
    # the window the issue found: after the last comparison, before the rename
    target = tmp_path / "T.v"
    target.write_text(OLD, encoding="utf-8")
    edited = OLD + "(* saved by an editor in place *)\n"
    seen = at_step("swap", lambda: target.write_text(edited, encoding="utf-8"))
    with pytest.raises(safe_write.WriteRefused, match="changed on disk while"):
        safe_write.write_file(target, NEW, expected=OLD)
    assert "swapped" in seen  # the exchange happened, and was undone
    assert target.read_text(encoding="utf-8") == edited
    assert entries(tmp_path) == ["T.v"]  # no backup of a write that did not happen, no temp


@needs_exchange
def test_an_edit_saved_by_rename_at_the_swap_is_kept(tmp_path, at_step):
    target = tmp_path / "T.v"
    target.write_text(OLD, encoding="utf-8")
    edited = OLD + "(* saved by an editor that renames its own file over it *)\n"

    def save() -> None:
        (tmp_path / "T.v~new").write_text(edited, encoding="utf-8")
        os.replace(tmp_path / "T.v~new", target)

    at_step("swap", save)
    with pytest.raises(safe_write.WriteRefused, match="changed on disk while"):
        safe_write.write_file(target, NEW, expected=OLD)
    assert target.read_text(encoding="utf-8") == edited
    assert entries(tmp_path) == ["T.v"]


def test_an_edit_after_the_swap_stays_in_the_file_and_the_caller_is_told(tmp_path, at_step):
    target = tmp_path / "T.v"
    target.write_text(OLD, encoding="utf-8")
    edited = NEW + "(* the user's next edit *)\n"
    at_step("swapped", lambda: target.write_text(edited, encoding="utf-8"))
    with pytest.raises(safe_write.WriteRefused, match="edited while the proofs were written"):
        safe_write.write_file(target, NEW, expected=OLD)
    assert target.read_text(encoding="utf-8") == edited
    assert entries(tmp_path) == ["T.v", "T.v.orig.bak"]  # the file was written: its backup


EDITOR = """
import os, sys, time
from pathlib import Path
target, go, how = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
while not go.exists():
    time.sleep(0.005)
text = target.read_text() + "(* saved by another process *)\\n"
if how == "rename":
    Path(str(target) + "~").write_text(text)
    os.replace(str(target) + "~", target)
else:
    target.write_text(text)
"""


@needs_exchange
@pytest.mark.parametrize("how", ["in-place", "rename"])
def test_a_save_by_another_process_during_a_delay_at_the_swap_is_kept(tmp_path, at_step, how):
    # the demonstration: the window before the rename widened by a delay, and an
    # editor (another process) saving in it
    target = tmp_path / "T.v"
    target.write_text(OLD, encoding="utf-8")
    go = tmp_path.parent / f"go-{how}"
    editor = subprocess.Popen([sys.executable, "-c", EDITOR, str(target), str(go), how])

    def delay() -> None:
        go.write_text("now")
        editor.wait(timeout=30)  # the save lands during the delay

    at_step("swap", delay)
    with pytest.raises(safe_write.WriteRefused, match="changed on disk while"):
        safe_write.write_file(target, NEW, expected=OLD)
    assert editor.returncode == 0
    assert target.read_text(encoding="utf-8") == OLD + "(* saved by another process *)\n"
    assert entries(tmp_path) == ["T.v"]


@needs_exchange
def test_edits_on_both_sides_of_the_swap_are_both_kept(tmp_path, at_step):
    # one before the exchange (detected in the file swapped out) and one on the new file before
    # the exchange back: the first ends in the file, the second in T.v.recovered
    target = tmp_path / "T.v"
    target.write_text(OLD, encoding="utf-8")
    first, second = OLD + "(* first *)\n", NEW + "(* second *)\n"
    seen: list[str] = []

    def hook(name: str) -> None:
        seen.append(name)
        if name == "swap":
            target.write_text(first, encoding="utf-8")
        if name == "swapped":
            target.write_text(second, encoding="utf-8")
    safe_write.at_step = hook
    try:
        with pytest.raises(safe_write.WriteRefused, match="changed on disk while"):
            safe_write.write_file(target, NEW, expected=OLD)
    finally:
        safe_write.at_step = None
    assert target.read_text(encoding="utf-8") == first
    assert (tmp_path / "T.v.recovered").read_text(encoding="utf-8") == second
    assert entries(tmp_path) == ["T.v", "T.v.recovered"]


def test_without_the_exchange_an_in_place_edit_is_still_kept(tmp_path, at_step, monkeypatch):
    monkeypatch.setattr(safe_write, "exchange", lambda a, b: False)  # a file system without it
    target = tmp_path / "T.v"
    target.write_text(OLD, encoding="utf-8")
    edited = OLD + "(* in place *)\n"
    at_step("swap", lambda: target.write_text(edited, encoding="utf-8"))
    with pytest.raises(safe_write.WriteRefused, match="changed on disk while"):
        safe_write.write_file(target, NEW, expected=OLD)
    assert target.read_text(encoding="utf-8") == edited
    assert entries(tmp_path) == ["T.v"]
    monkeypatch.setattr(safe_write, "at_step", None)
    safe_write.write_file(target, NEW, expected=edited)  # and it writes when left alone
    assert target.read_text(encoding="utf-8") == NEW
    assert entries(tmp_path) == ["T.v", "T.v.orig.bak"]


# --- kill -9 at each step -----------------------------------------------------------------

KILLED = """
import sys, time
from pathlib import Path
from alphaquant import safe_write
target, step, ready, backup = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), sys.argv[4]
def at(name):
    if name == step:
        ready.write_text(name)
        time.sleep(120)
safe_write.at_step = at
safe_write.write_file(target, sys.stdin.read(), expected=target.read_text(), backup=backup == "1")
"""


def killed_at(target: Path, step: str, backup: bool = True) -> None:
    ready = target.parent.parent / f"ready-{step}"
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED, str(target), step, str(ready), "1" if backup else "0"],
        stdin=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdin is not None
    proc.stdin.write(NEW)
    proc.stdin.close()
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert proc.poll() is None, f"the writer ended before step {step}"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL


@pytest.mark.parametrize("step", STEPS)
def test_kill_9_at_each_step_leaves_the_file_whole_and_the_next_write_clears_up(tmp_path, step):
    folder = tmp_path / "project"
    folder.mkdir()
    target = folder / "T.v"
    target.write_text(OLD, encoding="utf-8")
    killed_at(target, step)
    now = target.read_text(encoding="utf-8")
    assert now in (OLD, NEW)  # whole: the old text or the new, never a part
    assert now == (NEW if STEPS.index(step) >= STEPS.index("swapped") else OLD)
    for backup in folder.glob("T.v.orig.bak*"):  # a backup, once named, is whole
        assert backup.read_text(encoding="utf-8") == OLD
    # the next write of the file sweeps what the killed one left
    safe_write.write_file(target, now + "(* next run *)\n", expected=now)
    names = entries(folder)
    assert [n for n in names if n.startswith(".") or "recovered" in n] == []
    assert (folder / "T.v.orig.bak").read_text(encoding="utf-8") == OLD


def test_kill_9_after_the_swap_without_a_backup_keeps_the_old_text_visible(tmp_path):
    # the file swapped out is found nowhere else: the sweep keeps it, it does not delete it
    folder = tmp_path / "project"
    folder.mkdir()
    target = folder / "T.v"
    target.write_text(OLD, encoding="utf-8")
    killed_at(target, "swapped", backup=False)
    assert target.read_text(encoding="utf-8") == NEW
    assert len([n for n in entries(folder) if n.startswith(".T.v.alphaquant-")]) == 1
    safe_write.sweep(target)
    assert entries(folder) == ["T.v", "T.v.recovered"]
    assert (folder / "T.v.recovered").read_text(encoding="utf-8") == OLD


def test_a_live_writers_temporaries_are_left_alone(tmp_path):
    target = tmp_path / "T.v"
    target.write_text(OLD, encoding="utf-8")
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        theirs = tmp_path / f".T.v.alphaquant-{other.pid}-abc123.tmp"
        theirs.write_text("being written", encoding="utf-8")
        dead = tmp_path / ".T.v.alphaquant-999999999-abc123.tmp"
        dead.write_text(OLD, encoding="utf-8")
        assert safe_write.sweep(target) == [dead]
        assert theirs.exists()
    finally:
        other.kill()
        other.wait()


# --- backups and side files ---------------------------------------------------------------


def test_side_files_are_numbered_not_overwritten(tmp_path):
    target = tmp_path / "T.v"
    target.write_text(OLD, encoding="utf-8")
    first = safe_write.write_side_file(target, [("a", 3, ["reflexivity."])])
    second = safe_write.write_side_file(target, [("a", 3, ["auto."])])
    assert (first, second) == (tmp_path / "T.v.proofs", tmp_path / "T.v.proofs.1")
    assert "reflexivity." in first.read_text(encoding="utf-8")
    assert "auto." in second.read_text(encoding="utf-8")
    assert entries(tmp_path) == ["T.v", "T.v.proofs", "T.v.proofs.1"]


def test_an_empty_backup_left_by_a_failed_write_is_not_the_first_backup(tmp_path):
    target = tmp_path / "T.v"
    target.write_text(OLD, encoding="utf-8")
    (tmp_path / "T.v.orig.bak").write_bytes(b"")  # what a full disk left before this version
    assert safe_write.write_file(target, NEW, expected=OLD) == tmp_path / "T.v.orig.bak"
    assert (tmp_path / "T.v.orig.bak").read_text(encoding="utf-8") == OLD
    assert entries(tmp_path) == ["T.v", "T.v.orig.bak"]


# --- a full file system -------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """A 64 KiB tmpfs mounted for the test (root only)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"mount is not permitted here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def fill(folder: Path, leave: int) -> Path:
    """Fill the file system holding ``folder`` until about ``leave`` bytes are free."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 1024)
        except OSError:
            pass
    free = os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize
    os.truncate(filler, max(0, filler.stat().st_size + free - leave))
    return filler


def test_a_full_disk_leaves_the_file_and_no_backup_then_a_later_write_backs_it_up(
        small_disk, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where the side file goes when the disk cannot take it
    target = small_disk / "T.v"
    old = OLD + "(*" + "x" * 12_000 + "*)\n"
    target.write_text(old, encoding="utf-8")
    filler = fill(small_disk, leave=0)  # no room for anything
    with pytest.raises(safe_write.WriteRefused, match="No space left"):
        safe_write.write_file(target, NEW + old, expected=old)
    assert target.read_text(encoding="utf-8") == old
    assert entries(small_disk) == ["T.v", "filler"]  # no empty backup, no temporary
    side = safe_write.write_side_file(target, [("a", 3, ["reflexivity."])])
    assert side == tmp_path / "T.v.proofs"  # beside the file there is no room
    os.truncate(filler, filler.stat().st_size - 16_384)  # room for the backup, not the new text
    with pytest.raises(safe_write.WriteRefused, match="No space left"):
        safe_write.write_file(target, NEW + old, expected=old)
    assert target.read_text(encoding="utf-8") == old
    assert entries(small_disk) == ["T.v", "filler"]  # the backup of a write undone is gone
    filler.unlink()
    assert safe_write.write_file(target, NEW + old, expected=old) == small_disk / "T.v.orig.bak"
    assert (small_disk / "T.v.orig.bak").read_text(encoding="utf-8") == old
    assert target.read_text(encoding="utf-8") == NEW + old
    assert entries(small_disk) == ["T.v", "T.v.orig.bak"]
