"""Validation, wildcard constraints and input functions shared by the rules."""

import os

from atomsight.io.movies import movie_files
from atomsight.config import validate_config
from atomsight.device import gpu_available
from atomsight.layout import ResultsLayout
from atomsight.simulation.splits import SPLITS

# Fills in the schema's defaults (workflow/schemas/config.schema.yaml) and stops with a
# message naming the key when a value is invalid.
validate_config(config, source="config")

SYSTEMS = sorted(config["systems"])
SEQUENCES = sorted(config["sequences"])
# Every output path comes from the package's results layout, which the command line uses too.
LAYOUT = ResultsLayout("results")

# Jobs in conda environments import atomsight from this checkout (the workflow sets
# this variable itself; users need not define it).
os.environ.update(
    PYTHONPATH=os.pathsep.join(
        filter(None, [os.path.join(workflow.basedir, "src"), os.getenv("PYTHONPATH")])
    )
)


wildcard_constraints:
    system="|".join(SYSTEMS),
    split="|".join(SPLITS),
    shard=r"\d{3}",
    sequence="|".join(SEQUENCES) or "(?!)",  # (?!) matches nothing: no sequence configured


def uses_gpu(library):
    """Whether jobs that run on `library` ("cupy": multislice, "tensorflow": the network)
    use a GPU, and so ask the scheduler for one. `device: auto` is resolved on the machine
    that runs Snakemake: on a cluster whose login node has no GPU, set `device: gpu`."""
    device = config["device"]
    return device == "gpu" or (device == "auto" and gpu_available(library))


def conda_env(library):
    """Conda environment of jobs that may use a GPU through `library` (CUDA builds) or not."""
    return (
        "../../envs/atomsight-gpu.yaml"
        if uses_gpu(library)
        else "../../envs/atomsight.yaml"
    )


def shard_stores(system, split):
    """Paths of all shard stores of one split of a system."""
    return LAYOUT.shard_stores(system, config["systems"][system], split)


def sequence_movie(wildcards):
    """Files of a configured sequence's movie, in frame order (glob patterns expanded, sorted by name)."""
    movie = config["sequences"][wildcards.sequence]["movie"]
    return [
        str(path) for path in movie_files([movie] if isinstance(movie, str) else movie)
    ]


def default_targets():
    """What a bare `snakemake` builds: the exported model and a preview of every target system,
    and the tracks of every sequence of a target system."""
    systems = config["targets"] or SYSTEMS
    return [
        target
        for system in systems
        for target in (LAYOUT.model(system), LAYOUT.preview(system))
    ] + [
        LAYOUT.tracks(name)
        for name in SEQUENCES
        if config["sequences"][name]["system"] in systems
    ]
