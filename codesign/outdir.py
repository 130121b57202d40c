"""Where commands write: one policy for every output a codesign command creates.

- **Complete or absent.** A replaced output (a trained run, a report, a bundle, generated files) is written
  into a hidden staging sibling and renamed into place only when the command succeeded.
- **Only our own, only on request.** An existing output is replaced only with `--force`, and only when its
  marker file says the same command wrote it and it holds nothing that command did not write (besides other
  codesign outputs derived from it). A directory holding a command's inputs, a study, or a user's files is
  refused, forced or not.
- **One writer.** A second command writing the same output while the first runs is refused (a lock that dies
  with its process: a killed run leaves nothing that blocks the next).
- **Continued outputs** (a search study, DQM fetch and training outputs) are never replaced: they carry the same
  marker and lock, and a later run of the same command adds to them.

Nothing is created outside the requested path (its missing parents excepted); the staging directory lives
beside the output only while the command runs.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

from codesign.errors import CodesignError
from codesign.runtime import check_interrupt

MARKER = ".codesign-output.json"
LOCK = ".codesign-lock"


class OutputError(CodesignError):
    """An output location the command may not write (exists, holds other files, is being written)."""


def _refuse(flag: str, out: Path, what: str) -> OutputError:
    return OutputError(f"{flag} {out}: {what}; nothing was written")


def marker(path: str | Path) -> dict | None:
    """The marker of a codesign output (`command`, `files`, ...), or None where there is none (or it is unreadable)."""
    try:
        data = json.loads((Path(path) / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("command"), str) else None


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() or p.is_symlink())


def write_marker(directory: Path, command: str, files: bool = True) -> None:
    """Mark `directory` as written by `command` (with the files it holds now, for a replaced output)."""
    data = {"command": command}  # no time stamp: the same output is the same bytes
    if files:
        data["files"] = [f for f in _files(directory) if f not in (MARKER, LOCK)]
    (directory / MARKER).write_text(json.dumps(data, indent=1) + "\n")


def _foreign(out: Path, recorded: Iterable[str]) -> list[str]:
    """Entries of `out` that its command did not write and that are not codesign outputs of their own."""
    known = set(recorded) | {MARKER, LOCK}
    extra = []
    for f in _files(out):
        if f in known:
            continue
        inside = out / f
        if any(marker(p) is not None for p in inside.parents if p != out and out in p.parents):
            continue  # a codesign output derived from this one (e.g. a run's emulation/)
        extra.append(f)
    return extra


def check(out: str | Path, command: str, *, force: bool = False, inputs: Iterable[str | Path] = (),
          not_inside: Iterable[str | Path] = (), continued: bool = False, flag: str = "--out") -> Path:
    """Refuse, before any work, an output this command may not write; returns it as a Path.

    `inputs`: files and directories the command reads (the output may not be or contain one); `not_inside`:
    directories the output may not lie in (a study's run directory); `continued`: an output that later runs add to.
    """
    out = Path(out)
    try:
        return _check(out, command, force, inputs, not_inside, continued, flag)
    except OSError as exc:  # a name too long, a loop of links, a location that cannot be searched
        raise _refuse(flag, out, f"cannot be used ({exc.strerror or exc})") from None


def _check(out: Path, command: str, force: bool, inputs, not_inside, continued: bool, flag: str) -> Path:
    if out.exists() and not out.is_dir():
        raise _refuse(flag, out, "exists and is not a directory")
    where = out.resolve()
    for item in inputs:
        if item is None:
            continue
        path = Path(item).resolve()
        if path == where or where in path.parents:
            raise _refuse(flag, out, f"contains {item}, an input of this command; choose another {flag}")
    for item in not_inside:
        path = Path(item).resolve()
        if where == path or path in where.parents:
            raise _refuse(flag, out, f"lies inside {item}; choose a directory outside it")
    if not out.is_dir() or not any(out.iterdir()):
        return out
    mark = marker(out)
    if mark is None:
        raise _refuse(flag, out, f"exists and holds files codesign did not write (no {MARKER}); "
                                 f"choose a new or empty {flag}")
    if mark["command"] != command:
        raise _refuse(flag, out, f"holds the output of `codesign {mark['command']}`, not of `codesign {command}`; "
                                 f"choose another {flag}")
    if continued:
        return out
    foreign = _foreign(out, mark.get("files", ()))
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise _refuse(flag, out, f"holds files the earlier `codesign {command}` did not write ({shown}); "
                                 f"move them or choose another {flag}")
    if not force:
        raise _refuse(flag, out, f"already holds a `codesign {command}` output; pass --force to replace it or "
                                 f"choose another {flag}")
    return out


def _first_missing(path: Path) -> Path | None:
    """The outermost directory of `path` that does not exist yet (what creating it would add), or None."""
    if path.exists():
        return None
    while not path.parent.exists() and path.parent != path:
        path = path.parent
    return path


def _mkdir(path: Path, flag: str, out: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise _refuse(flag, out, f"{path} exists and is not a directory") from None
    except OSError as exc:
        raise _refuse(flag, out, f"cannot create {path} ({exc.strerror or exc})") from None


def _try_lock(path: Path):
    """An open handle holding an exclusive lock on `path`, or None if another process holds it."""
    handle = path.open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        handle.close()
        if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            return None
        raise
    return handle


@contextlib.contextmanager
def _directory_lock(directory: Path):
    """Serialise the short claim step of writers in one directory (not held while they work)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _busy(flag: str, out: Path, command: str) -> OutputError:
    return _refuse(flag, out, f"another `codesign {command}` is writing it now; wait for it to finish or choose "
                              f"another {flag}")


@contextlib.contextmanager
def staged(out: str | Path, command: str, *, force: bool = False, inputs: Iterable[str | Path] = (),
           not_inside: Iterable[str | Path] = (), flag: str = "--out") -> Iterator[Path]:
    """Yield a hidden staging directory for `out`; on success it replaces `out` (see the module), else vanishes."""
    out = Path(out)
    inputs, not_inside = list(inputs), list(not_inside)
    check(out, command, force=force, inputs=inputs, not_inside=not_inside, flag=flag)
    new_root = _first_missing(out.parent)
    _mkdir(out.parent, flag, out)
    stage = out.parent / f".{out.name}.partial"
    try:
        with _directory_lock(out.parent):
            if stage.exists():
                stale = _try_lock(stage / LOCK) if stage.is_dir() else None
                if stage.is_dir() and stale is None:
                    raise _busy(flag, out, command)
                if stale is not None:
                    stale.close()
                shutil.rmtree(stage) if stage.is_dir() else stage.unlink()  # left by a killed run
            stage.mkdir()
            lock = _try_lock(stage / LOCK)
    except OSError as exc:
        raise _refuse(flag, out, f"cannot write in {out.parent} ({exc.strerror or exc})") from None
    try:
        yield stage
        check_interrupt()  # a Ctrl-C a library swallowed (h5py, uproot finalisers) never publishes the output
        with _directory_lock(out.parent):  # re-checked: out may have changed while this command ran
            (stage / LOCK).unlink()
            write_marker(stage, command)
            check(out, command, force=force, inputs=inputs, not_inside=not_inside, flag=flag)
            if out.exists():
                old = out.parent / f".{out.name}.{os.getpid()}.old"
                out.rename(old)
                stage.rename(out)
                shutil.rmtree(old, ignore_errors=True)
            else:
                stage.rename(out)
    finally:
        lock.close()
        shutil.rmtree(stage, ignore_errors=True)
        if new_root is not None and not out.exists():  # the parents this command made, for nothing
            shutil.rmtree(new_root, ignore_errors=True)


@contextlib.contextmanager
def continued(out: str | Path, command: str, *, flag: str = "--out", legacy: str | None = None) -> Iterator[Path]:
    """Hold `out` (created if missing) for a command that adds to it; refuse other contents and a second writer.

    Nothing in it is ever deleted, so its inputs may lie inside it (a DQM table chained from an earlier tag).
    `legacy`: a file that marks an output written before markers existed (adopted: the marker is added).
    """
    out = Path(out)
    if legacy and out.is_dir() and marker(out) is None and (out / legacy).is_file():
        write_marker(out, command, files=False)
    check(out, command, continued=True, flag=flag)
    new_root, had_lock = _first_missing(out), (out / LOCK).exists()
    _mkdir(out, flag, out)
    try:
        lock = _try_lock(out / LOCK)
    except OSError as exc:
        raise _refuse(flag, out, f"cannot write in it ({exc.strerror or exc})") from None
    if lock is None:
        raise _busy(flag, out, command)
    marked = marker(out) is None
    try:
        if marked:
            write_marker(out, command, files=False)
        yield out
    except BaseException:
        # a command refused before it wrote anything leaves no trace: not even the directory it would have made
        if {p.name for p in out.iterdir()} <= {MARKER, LOCK}:
            if new_root is not None:
                shutil.rmtree(new_root, ignore_errors=True)
            else:
                for name, ours in ((MARKER, marked), (LOCK, not had_lock)):
                    if ours:
                        (out / name).unlink(missing_ok=True)
        raise
    finally:
        lock.close()


@contextlib.contextmanager
def fresh(path: str | Path) -> Iterator[Path]:
    """A new directory inside an output this process holds (a trained tag's model): yields a hidden sibling,
    renamed to `path` on success, removed on failure. The caller has checked that `path` does not exist."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{os.getpid()}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
        tmp.rename(path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
