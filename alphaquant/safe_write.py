"""Writing proofs into a user's file: an edit is never lost, nothing is left behind.

``write_file`` replaces a file's text only if the file still holds what the search started
from, and keeps what it held in ``<name>.orig.bak`` (``.1``, ``.2``, … once that exists). An
editor's save may land at any moment of it; at the end the edit is in the file, or nothing was
written and the caller keeps the proofs aside (``write_side_file``). How:

- The new text goes to a temporary file beside the target, synced, and is swapped in with
  ``renameat2(RENAME_EXCHANGE)``: the temporary's name then holds whatever the path held at that
  instant, which is compared with what was expected. An edit that landed before the swap (in
  place, or as a new file renamed over ours) is swapped back; one that lands after it is on
  the new file and stays, and the target is read once more to tell the caller. No file is
  removed unless it holds bytes known to be kept elsewhere (the backup, or our own text).
  Why not a lock: editors take none. Why not a hard link to the replaced file: a save that
  renames a new file over the target between the link and ``os.replace`` would be lost.
  Where the exchange is refused (a file system without it, or no ``renameat2``), a hard link
  to the replaced file catches in-place edits; a save by rename in the microseconds between
  the last comparison and ``os.replace`` is the one case left open there.
- A write through a descriptor the editor opened before the swap and wrote after the final
  comparison goes to the replaced file: no rename-based writer can see it.
- Temporaries are named ``.<name>.alphaquant-<pid>-<random>-i<inode>.tmp``, the inode their
  own once whole. A run killed at any step leaves the target whole (old or new text) and at
  most such files, which the next write of that file sweeps: one still on its own inode (our
  text, or a part of it) is removed; one that holds the file swapped out is removed when its
  bytes are also in the file or a backup, else kept as ``<name>.recovered`` (numbered).
- A backup or side file is written whole to a temporary, synced, then linked to the first
  free name and read back: an empty or partial file never takes a backup's name. An empty
  ``<name>.orig.bak`` a failed write of an earlier version left is not a backup and is
  replaced.

The text is what ``file_text.decode`` gives; it is written back with the file's own BOM and
line endings.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import re
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

from alphaquant.file_text import decode, encode

log = logging.getLogger(__name__)

_TEMP = re.compile(r"\.(?P<name>.+)\.alphaquant-(?P<pid>\d+)-[a-z0-9_]+(?:-i(?P<ino>\d+))?\.tmp")
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2

# Called with the name of each step of a write ("backup-temp", "backup", "temp", "swap",
# "swapped", "checked", "written"); the tests edit the file or kill the process there.
at_step: Callable[[str], None] | None = None


# Why a write-back did not happen (the file holds what it held, or an edit made meanwhile).
class WriteRefused(Exception):
    pass


def write_file(path: Path, text: str, *, expected: str | None = None,
               backup: bool = True) -> Path | None:
    """Replace the file's text, keeping a backup of what it held (see the module docstring).

    A symlink is written through to its target.

    Args:
      path: the file.
      text: its new text (LF line endings; the file's own are put back).
      expected: the text the file must hold (the text the search started from); anything
        else means the user edited it meanwhile.
      backup: keep a backup first.

    Returns:
      The backup's path, or None.

    Raises:
      WriteRefused: the file changed on disk (before or while writing: any edit is kept), or
        cannot be written (the message says which).
    """
    target = path.resolve()
    sweep(target)
    old = _read(target, path)
    try:
        found, layout = decode(old)
    except UnicodeDecodeError:
        raise WriteRefused(f"{path} changed on disk since the search began (no longer UTF-8 "
                           "text)") from None
    if expected is not None and found != expected:
        raise WriteRefused(f"{path} changed on disk since the search began")
    if not os.access(target, os.W_OK) or not os.access(target.parent, os.W_OK):
        raise WriteRefused(f"cannot write {path}: permission denied")
    new = encode(text, layout)
    saved = tmp = None
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
        if backup:
            saved = place_new(target.parent, target.name + ".orig.bak", old, mode=mode,
                              stale_empty=True, step="backup")
        tmp = _temporary(target, new, mode)
        _step("temp")
        if _read(target, path) != old:
            raise WriteRefused(f"{path} changed on disk since the search began")
        _step("swap")
        _swap_in(tmp, target, path, old, new)
        tmp = None
    except OSError as e:
        _abandon(saved)
        raise WriteRefused(f"cannot write {path}: {e.strerror or e}") from None
    except BaseException:
        _abandon(saved)
        raise
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    _step("written")
    if _read(target, path) != new:
        raise WriteRefused(f"{path} was edited while the proofs were written; the edit is "
                           f"kept, the proofs are not in it")
    return saved


def _swap_in(tmp: Path, target: Path, path: Path, old: bytes, new: bytes) -> None:
    """Put ``tmp`` (holding ``new``) at ``target`` (holding ``old``); an edit that reached the
    target first is put back, and WriteRefused raised."""
    if exchange(tmp, target):
        _step("swapped")
        if _read(tmp, path) == old:
            _step("checked")
            tmp.unlink()
            return
        exchange(tmp, target)  # the edit back at the target; ours (and any edit of it) at tmp
        _settle(tmp, new, target)
        raise WriteRefused(f"{path} changed on disk while the proofs were written; the edit is "
                           "kept")
    hold = _temp_name(target)  # no exchange here: a hard link keeps the replaced file
    os.link(target, hold)
    try:
        os.replace(tmp, target)
        _step("swapped")
        if _read(hold, path) == old:
            _step("checked")
            return
        if _read(target, path) == new:
            os.replace(hold, target)  # the in-place edit back
        raise WriteRefused(f"{path} changed on disk while the proofs were written; the edit is "
                           "kept")
    finally:
        if hold.exists():
            _settle(hold, old, target)


def _settle(leftover: Path, known: bytes, target: Path) -> None:
    """Remove a temporary holding ``known`` bytes; keep any other as ``<name>.recovered``."""
    if leftover.read_bytes() == known:
        leftover.unlink()
    else:
        kept = _link_free(leftover, target.parent, target.name + ".recovered")
        leftover.unlink()
        log.warning("%s: an edit made while writing was kept in %s", target, kept)


def write_side_file(path: Path, proofs: list[tuple[str, int, list[str]]]) -> Path | None:
    """Keep proofs that could not be written in ``<name>.proofs`` beside the file (``.1``,
    ``.2``, … once that exists; never overwritten), or in the working directory when the
    file's folder cannot take it; None if neither can.

    Args:
      path: the source file.
      proofs: (theorem, line, tactics) of each proof.
    """
    lines = [f"(* proofs alphaquant found for {path.name}; the file was not changed *)"]
    for theorem, line, tactics in proofs:
        lines.append(f"\n{theorem or '(anonymous)'} (line {line}):\n  " + "\n  ".join(tactics))
    body = ("\n".join(lines) + "\n").encode("utf-8")
    for folder in (path.resolve().parent, Path.cwd()):
        try:
            return place_new(folder, path.name + ".proofs", body)
        except OSError as e:
            log.info("cannot keep the proofs in %s: %s", folder, e.strerror or e)
    return None


def place_new(folder: Path, name: str, data: bytes, *, mode: int = 0o644,
              stale_empty: bool = False, step: str = "") -> Path:
    """A new file holding ``data`` at the first free name of ``name``, ``name.1``, … in
    ``folder``, never overwriting one: written whole to a temporary, synced, linked, read back.

    Args:
      stale_empty: an empty file at ``name`` itself is no such file (a failed earlier write
        left it) and is replaced, unless ``data`` is empty too.
      step: the name ``at_step`` is told (``<step>-temp`` before the link, ``<step>`` after).

    Raises:
      OSError: the folder cannot take it (full, read-only, …).
    """
    tmp = _temporary(folder / name, data, mode)
    try:
        if step:
            _step(step + "-temp")
        first = folder / name
        if stale_empty and data and _empty_file(first):
            os.replace(tmp, first)
            placed = first
        else:
            placed = _link_free(tmp, folder, name)
        if step:
            _step(step)
        if placed.read_bytes() != data:
            placed.unlink()
            raise OSError(errno.EIO, f"{placed} does not read back as written")
        _sync_folder(folder)
        return placed
    finally:
        tmp.unlink(missing_ok=True)


def sweep(target: Path) -> list[Path]:
    """Clear the temporaries of ``target`` left by a write that died (see the module docstring),
    and those of its backups and side files (copies of what the file held, or proofs of a run
    that died: removed); returns what was cleared. Failures are logged, never raised."""
    done: list[Path] = []
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return done
    known: list[bytes] | None = None
    for entry in entries:
        m = _TEMP.fullmatch(entry.name)
        if m is None or _alive(int(m["pid"])):
            continue
        if not (m["name"] == target.name or m["name"].startswith(target.name + ".")):
            continue
        leftover = Path(entry.path)
        try:
            # what a swap put at this name, or a hard link to the file: perhaps an edit
            swapped = (m["name"] == target.name and m["ino"] is not None
                       and int(m["ino"]) != entry.inode())
            if swapped and known is None:
                known = _kept_bytes(target)
            if swapped and leftover.read_bytes() not in (known or []):
                kept = _link_free(leftover, target.parent, target.name + ".recovered")
                log.warning("%s: a write that died left text found nowhere else; kept in %s",
                            target, kept)
            leftover.unlink()
            done.append(leftover)
        except OSError as e:
            log.warning("cannot clear %s: %s", leftover, e.strerror or e)
    return done


def _kept_bytes(target: Path) -> list[bytes]:
    """The bytes of the file and of each of its backups (and recovered copies)."""
    out = []
    for p in [target, *target.parent.glob(glob_escape(target.name) + ".orig.bak*"),
              *target.parent.glob(glob_escape(target.name) + ".recovered*")]:
        try:
            out.append(p.read_bytes())
        except OSError:
            continue
    return out


def glob_escape(name: str) -> str:
    """``name`` with glob's special characters taken literally."""
    return re.sub(r"([*?\[])", r"[\1]", name)


def exchange(a: Path, b: Path) -> bool:
    """Swap the files at ``a`` and ``b`` atomically; False where the system cannot (no
    ``renameat2``, or a file system without RENAME_EXCHANGE)."""
    renameat2 = getattr(_libc(), "renameat2", None)
    if renameat2 is None:
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code))


_LIBC: list[ctypes.CDLL] = []


def _libc() -> ctypes.CDLL:
    if not _LIBC:
        _LIBC.append(ctypes.CDLL(None, use_errno=True))
    return _LIBC[0]


def _link_free(src: Path, folder: Path, name: str) -> Path:
    """Hard-link ``src`` at the first free one of ``name``, ``name.1``, … (never overwriting);
    on a file system without hard links, rename it there once seen free."""
    k = 0
    while True:
        candidate = folder / (name if k == 0 else f"{name}.{k}")
        try:
            os.link(src, candidate)
            return candidate
        except FileExistsError:
            k += 1
        except OSError as e:
            if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
                raise
            if not os.path.lexists(candidate):
                os.rename(src, candidate)
                return candidate
            k += 1


def _temporary(target: Path, data: bytes, mode: int | None) -> Path:
    """A synced temporary beside ``target`` holding ``data``, named for ``sweep`` (with its
    inode once whole)."""
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.alphaquant-{os.getpid()}-",
                                suffix=".tmp", dir=target.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
            inode = os.fstat(f.fileno()).st_ino
        if mode is not None:
            os.chmod(tmp, mode)
        whole = tmp.with_name(f"{tmp.name[:-len('.tmp')]}-i{inode}.tmp")
        os.rename(tmp, whole)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return whole


def _temp_name(target: Path) -> Path:
    """A free temporary name beside ``target`` for a hard link to it (inode 0: no file's, so
    ``sweep`` reads what it holds before removing it)."""
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.alphaquant-{os.getpid()}-",
                                suffix="-i0.tmp", dir=target.parent)
    os.close(fd)
    os.unlink(name)
    return Path(name)


def _abandon(saved: Path | None) -> None:
    """Remove the backup of a write that did not happen (the file still holds those bytes)."""
    if saved is not None:
        saved.unlink(missing_ok=True)


def _read(p: Path, shown: Path) -> bytes:
    try:
        return p.read_bytes()
    except OSError as e:
        raise WriteRefused(f"cannot read {shown}: {e.strerror or e}") from None


def _empty_file(p: Path) -> bool:
    try:
        st = os.lstat(p)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_size == 0


def _alive(pid: int) -> bool:
    """Whether process ``pid`` (another than this one) is running."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _step(name: str) -> None:
    if at_step is not None:
        at_step(name)
