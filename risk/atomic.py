"""Atomic output folders: write everything beside the target, fsync, then swap into place.

A run writes its files into a fresh temporary folder next to the target (same file system, so the
final step is a rename, not a copy). Only when every file is written and flushed to disk is the
folder swapped with the previous outputs; a run that fails or is killed before that leaves the
previous outputs untouched, plus at worst a hidden ``.<name>.tmp-*`` folder that the next run removes.

On Linux the swap is one ``renameat2(RENAME_EXCHANGE)`` system call, so the target is never missing;
elsewhere it is two renames, and a folder left as ``.<name>.old-*`` by a crash between them is put back
by the next run before it starts.

Files in the target that the run did not write (for example a reviewer's notes) are carried over into
the new folder by hard link, so replacing a run never deletes anything the run does not own.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from features.contract.errors import FanpinError


class OutputError(FanpinError, OSError):
    """An output could not be written (read-only folder, disk full, ...)."""


_TMP_MARK = ".tmp-"
_OLD_MARK = ".old-"
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


@contextlib.contextmanager
def atomic_output_dir(target: str | Path) -> Iterator[Path]:
    """Yield a temporary folder to write into; on success it replaces `target` in one step.

    Parameters
    ----------
    target
        The output folder. It may exist (its previous contents are replaced only after success) or
        not (it is created).

    Yields
    ------
    Path
        A fresh, empty folder beside `target` on the same file system.

    Raises
    ------
    OutputError
        When the folder beside `target` cannot be created or written (read-only, disk full, ...).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_output_dir(root / "run") as tmp:
    ...     _ = (tmp / "a.txt").write_text("done")
    >>> (root / "run" / "a.txt").read_text()
    'done'
    """
    target = Path(target).absolute()
    recover_interrupted_swap(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}{_TMP_MARK}", dir=target.parent))
        tmp.chmod(0o777 & ~_current_umask())  # mkdtemp makes 0700; outputs are shared files
    except OSError as error:
        raise OutputError(
            f"cannot create an output folder beside {target}: {error.strerror or error}; "
            "choose a writable --out folder with free space"
        ) from error
    try:
        yield tmp
        _carry_over_foreign_files(target, tmp)
        _fsync_tree(tmp)
        _swap_into_place(tmp, target)
    except OSError as error:
        shutil.rmtree(tmp, ignore_errors=True)
        raise OutputError(
            f"cannot write the outputs to {target}: {error.strerror or error}; "
            "the previous outputs (if any) are unchanged. Check free space and permissions."
        ) from error
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def recover_interrupted_swap(target: Path) -> None:
    """Undo what a crash mid-swap may have left: restore a lone ``.old`` folder, drop temp folders."""
    parent = target.parent
    if not parent.is_dir():
        return
    olds = sorted(parent.glob(f".{target.name}{_OLD_MARK}*"))
    if olds and not target.exists():
        os.rename(olds[-1], target)
        olds = olds[:-1]
    for leftover in [*olds, *parent.glob(f".{target.name}{_TMP_MARK}*")]:
        shutil.rmtree(leftover, ignore_errors=True)


def _carry_over_foreign_files(target: Path, tmp: Path) -> None:
    """Hard-link (or copy) entries of the old folder that the new run did not write."""
    if not target.is_dir():
        return
    for entry in sorted(target.iterdir()):
        destination = tmp / entry.name
        if destination.exists():
            continue
        if entry.is_dir():
            shutil.copytree(entry, destination, copy_function=_link_or_copy)
        else:
            _link_or_copy(str(entry), str(destination))


def _link_or_copy(source: str, destination: str) -> None:
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)


def _fsync_tree(folder: Path) -> None:
    """Flush every file and folder under `folder` to disk."""
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # some file systems cannot fsync a directory
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _swap_into_place(tmp: Path, target: Path) -> None:
    if not target.exists():
        os.rename(tmp, target)
    elif _exchange(tmp, target):
        shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the previous outputs
    else:
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}{_OLD_MARK}", dir=target.parent))
        old.rmdir()
        os.rename(target, old)
        os.rename(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    _fsync_dir(target.parent)


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths in one system call (Linux ``renameat2``); False when unavailable."""
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    result = renameat2(
        _AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE
    )
    return bool(result == 0)


def save_workbook(book: Any, out: str | Path) -> Path:
    """Save an openpyxl workbook to `out` in one step: written beside it, then moved into place.

    Raises
    ------
    OutputError
        When the folder cannot be created or written; `out` is left as it was.
    """
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
        os.close(handle)
        try:
            book.save(temporary)
            os.replace(temporary, out)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
    except OSError as error:
        raise OutputError(f"cannot write {out}: {error}; choose a writable --out path") from error
    return out
