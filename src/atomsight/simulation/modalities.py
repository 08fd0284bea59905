"""What the simulation stores for each structure in each imaging mode: the seam a new mode plugs into.

A system's ``modality`` (the configuration's, :func:`atomsight.config.modalities`) picks its
:class:`Simulator` here. For ``hrtem`` that is the plane-wave exit wave of
:mod:`atomsight.simulation.simulate`. A new imaging mode adds its own module (its stored
response of the object, e.g. an ADF-STEM response) and an entry in :data:`SIMULATORS`; the
shard stores (:mod:`atomsight.io.store`), the label maps and the ground truth are shared.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import abtem
import numpy as np

from .simulate import iter_exit_waves, shard_template


@dataclass(frozen=True)
class Simulator:
    """How one imaging mode simulates the structures of a shard.

    Attributes
    ----------
    description : str
        What the stored array holds, recorded in the store.
    template : callable
        ``template(structures, energy=, simulation=, indices=)``: lazy abTEM Waves with the
        grid and metadata of the shard's stored arrays, nothing computed.
    responses : callable
        ``responses(structures, energy=, simulation=, device=, threads=, progress=)``: the
        stored array of each structure, in order, as each is done.
    """

    description: str
    template: Callable[..., abtem.Waves]
    responses: Callable[..., Iterator[np.ndarray]]


SIMULATORS: Mapping[str, Simulator] = {
    "hrtem": Simulator("exit waves, |psi|^2 = 1 in vacuum", shard_template, iter_exit_waves),
}
"""The simulator of each imaging mode."""


def simulator(system: Mapping[str, Any]) -> Simulator:
    """Return the simulator of a system's validated configuration section (its ``modality``)."""
    return SIMULATORS[system["modality"]]
