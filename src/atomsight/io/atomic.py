"""Write a file or folder so that it appears only when complete: a temporary name beside it, then a rename.

Several files that belong together (an image's table, sidecar, maps and overlay) are written
to temporaries and renamed in one go by :func:`atomic_files`, with SIGINT and SIGTERM held
until the last is in place.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import signal
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any


def temporary_name(path: str | Path, suffix: str = "") -> Path:
    """Return a hidden, per-process temporary name beside ``path`` (``suffix`` appended)."""
    path = Path(path)
    return path.with_name(f".{path.name}.tmp-{os.getpid()}{suffix}")


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def replace(tmp: str | Path, path: str | Path) -> None:
    """Move a completed ``tmp`` file or folder to ``path``, replacing what was there."""
    tmp, path = Path(tmp), Path(path)
    if path.is_dir():
        shutil.rmtree(path)
    os.replace(tmp, path)


@contextlib.contextmanager
def atomic_path(path: str | Path, *, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path to write; it becomes ``path`` when the block ends without error.

    On an error, or when the block leaves nothing there, the temporary is removed and
    ``path`` is left as it was.

    Parameters
    ----------
    path : str or pathlib.Path
        The final file or folder.
    suffix : str
        Appended to the temporary name, for writers that check extensions (e.g. ".keras").
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(path, suffix)
    _remove(tmp)
    try:
        yield tmp
        replace(tmp, path)
    finally:
        if tmp.exists():
            _remove(tmp)


@contextlib.contextmanager
def atomic_files(paths: Sequence[str | Path]) -> Iterator[list[Path]]:
    """Yield a temporary path for each of ``paths``; at the end of the block they replace their targets together.

    The temporaries keep their target's extension (for writers that check it). When the
    block ends without error they are renamed onto their targets in order, with SIGINT and
    SIGTERM held until all are in place, so that an interrupted run leaves every old file or
    every new one (a signal that came meanwhile takes effect just after). On an error the
    temporaries are removed and the targets left as they were.
    """
    targets = [Path(p) for p in paths]
    tmps = [temporary_name(target, target.suffix) for target in targets]
    for target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
    try:
        yield tmps
        with _signals_held():
            for tmp, target in zip(tmps, targets):
                os.replace(tmp, target)
    finally:
        for tmp in tmps:
            if tmp.exists():
                _remove(tmp)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Defer SIGINT and SIGTERM to the end of the block (in the main thread, where Python handles signals).

    The Python-level handlers are swapped for ones that only note the signal, rather than the
    signals being masked: a mask covers one thread, and the kernel hands a process-directed
    signal to any thread that does not mask it (TensorFlow's or BLAS's), after which Python
    would still raise in the main thread. A noted signal is re-sent once the old handlers are back.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.signal(signum, lambda signum, _frame: received.append(signum)) for signum in held}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        for number in dict.fromkeys(received):
            signal.raise_signal(number)


def check_output_folder(path: str | Path) -> Path:
    """Check that an output folder can be written, without creating it; return it.

    Raises
    ------
    ValueError
        If ``path`` is a file, lies under a file, or its nearest existing folder is not
        writable; the message names the path.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{path}: is a file, expected a folder for the results (or a path to create one at)")
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir():
        raise ValueError(f"{path}: lies under the file {existing}, expected a folder for the results")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"{path}: {existing} is not writable, so the results cannot be written there")
    return path


def write_csv_rows(path: str | Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> Path:
    """Write a CSV file with a header row atomically (see :func:`atomic_path`); return its path."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        writer.writerows(rows)
    return Path(path)


def write_json(path: str | Path, data: Mapping[str, Any]) -> Path:
    """Write JSON atomically (see :func:`atomic_path`), NaN as null and NumPy scalars as numbers; return its path."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, default=float).replace("NaN", "null"))
    return Path(path)
