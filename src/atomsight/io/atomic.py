"""Write a file or folder so that it appears only when complete: a temporary name beside it, then a rename."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
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
