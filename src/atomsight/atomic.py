"""Write a file or folder so that it appears only when complete: a temporary name beside it, then a rename."""

from __future__ import annotations

import contextlib
import csv
import os
import shutil
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path


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


def write_csv_rows(path: str | Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> Path:
    """Write a CSV file with a header row atomically (see :func:`atomic_path`); return its path."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        writer.writerows(rows)
    return Path(path)
