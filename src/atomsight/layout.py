"""Where the workflow writes what: the results layout, written once for the Snakefile and the command line.

Every path under the results folder comes from :class:`ResultsLayout`. The workflow's rules
(``workflow/rules/common.smk``) call it with Snakemake's wildcards (``"{system}"``), and the
command line (``atomsight preview``, ``evaluate-grid``) with a system's name, so both always
agree::

    results/
      structures/<system>/<split>.extxyz          random structures of a split
      exitwaves/<system>/<split>/shard-NNN.zarr   simulated exit waves and ground truth, one store a shard
      preview/<system>.png                        training images as the network sees them
      training/<system>/                          a training run (model.keras, history, curves, backup/)
      eval/<system>/                              evaluation on the test split (metrics.json, plots)
      eval/<system>/grid/                         evaluation over a grid of microscope conditions
      models/<system>/                            the exported model folder (SavedModel, network, card)
      tracks/<sequence>/                          a tracked image sequence
      logs/<rule>/...                             each job's log
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .simulation.splits import shard_count, shard_name


class MissingResultsError(FileNotFoundError):
    """Results a command needs that the workflow has not made yet; the message says how to make them."""


@dataclass(frozen=True)
class ResultsLayout:
    """The paths of a results folder.

    Parameters
    ----------
    root : str or pathlib.Path
        The results folder (``results`` for the workflow).
    """

    root: str | Path = "results"

    def _path(self, *parts: str) -> str:
        return "/".join([str(self.root).rstrip("/"), *parts])

    def structures(self, system: str, split: str) -> str:
        """The structures of a split: ``structures/<system>/<split>.extxyz``."""
        return self._path("structures", system, f"{split}.extxyz")

    def exitwaves(self, system: str, split: str, shard: int | str) -> str:
        """A shard store: ``exitwaves/<system>/<split>/shard-NNN.zarr`` (``shard`` an index or a wildcard)."""
        name = shard_name(shard) if isinstance(shard, int) else f"shard-{shard}.zarr"
        return self._path("exitwaves", system, split, name)

    def shard_stores(self, system: str, settings: Mapping[str, Any], split: str) -> list[str]:
        """Every shard store of a split of a system whose validated section is ``settings``."""
        count = shard_count(settings["splits"][split], settings["shard_size"])
        return [self.exitwaves(system, split, k) for k in range(count)]

    def existing_shard_stores(self, system: str, settings: Mapping[str, Any], split: str) -> list[Path]:
        """:meth:`shard_stores`, checking that they all exist.

        Raises
        ------
        MissingResultsError
            Naming the first missing stores and the command that makes them.
        """
        stores = [Path(p) for p in self.shard_stores(system, settings, split)]
        missing = [str(s) for s in stores if not s.exists()]
        if missing:
            raise MissingResultsError(
                f"missing exit-wave stores {missing[:3]}{' ...' if len(missing) > 3 else ''}; make them first, e.g."
                f" snakemake --cores 2 {missing[0]}"
            )
        return stores

    def preview(self, system: str) -> str:
        """The preview of training images: ``preview/<system>.png``."""
        return self._path("preview", f"{system}.png")

    def training(self, system: str, name: str = "") -> str:
        """A training run's folder, or a file in it: ``training/<system>/<name>``."""
        return self._path("training", system, *([name] if name else []))

    def evaluation(self, system: str, name: str = "") -> str:
        """The evaluation's folder, or a file in it: ``eval/<system>/<name>``."""
        return self._path("eval", system, *([name] if name else []))

    def grid(self, system: str, name: str = "") -> str:
        """The grid evaluation's folder, or a file in it: ``eval/<system>/grid/<name>``."""
        return self._path("eval", system, "grid", *([name] if name else []))

    def model(self, system: str) -> str:
        """The exported model folder: ``models/<system>``."""
        return self._path("models", system)

    def tracks(self, sequence: str) -> str:
        """A tracked sequence's folder: ``tracks/<sequence>``."""
        return self._path("tracks", sequence)

    def log(self, rule: str, *parts: str) -> str:
        """A job's log: ``logs/<rule>/<parts...>.log``."""
        return self._path("logs", rule, *parts[:-1], f"{parts[-1]}.log")
