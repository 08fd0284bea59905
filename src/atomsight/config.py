"""Load and validate the workflow configuration against its JSON schema.

The schema (``config.schema.yaml`` beside this module, also at
``workflow/schemas/config.schema.yaml``) documents every key, fills in defaults and
is the single place where defaults live.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import math
import warnings
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SCHEMA_NAME = "config.schema.yaml"
ANTIALIAS_FACTOR = 1.5
"""storage_sampling / potential_sampling must reach this: abTEM keeps 2/3 of the band."""


class ConfigError(ValueError):
    """An invalid configuration; the message names the file, key and problem."""


@functools.cache
def _schema_text() -> str:
    return resources.files("atomsight").joinpath(SCHEMA_NAME).read_text()


def load_schema() -> dict[str, Any]:
    """Return the configuration's JSON schema as a dictionary (a fresh copy)."""
    return yaml.safe_load(_schema_text())


def _validator_filling_defaults() -> type:
    """Return a Draft 2020-12 validator class that also inserts schema defaults."""
    base = jsonschema.Draft202012Validator
    validate_properties = base.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema and name not in instance:
                    instance[name] = copy.deepcopy(subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(base, {"properties": set_defaults})


def _key_path(error: jsonschema.ValidationError) -> str:
    """Return the dotted key path of a validation error, e.g. ``systems.gold.seed``."""
    return ".".join(str(part) for part in error.absolute_path) or "<top level>"


def validate_config(config: dict[str, Any], *, source: str = "config") -> dict[str, Any]:
    """Validate a configuration in place, fill in defaults, and return it.

    Parameters
    ----------
    config : dict
        The configuration, as loaded from YAML (modified in place).
    source : str
        Name of the configuration's file, used in error messages.

    Returns
    -------
    dict
        The same dictionary, with defaults filled in.

    Raises
    ------
    ConfigError
        If a key is missing, unknown or has an invalid value; the message names the
        source, the key path and what was expected.
    """
    if not isinstance(config, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level, got {type(config).__name__}")
    _refuse_non_finite(config, source)
    _move_detection_keys(config, source)
    validator = _validator_filling_defaults()(load_schema())
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"{source}: {_key_path(e)}: {e.message}" for e in errors]
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines))
    _check_consistency(config, source)
    return config


def validate_section(definition: str, section: dict[str, Any], *, source: str = "config") -> dict[str, Any]:
    """Validate one section against the schema's ``$defs/<definition>`` in place, fill in defaults, return it.

    For a block that no system reaches yet, such as ``stem_microscope`` before the STEM
    modality is added (issue 21).

    Raises
    ------
    ConfigError
        If the section is invalid; the message names the key and what was expected.
    """
    _refuse_non_finite(section, source)
    schema = load_schema()
    validator = _validator_filling_defaults()({"$ref": f"#/$defs/{definition}", "$defs": schema["$defs"]})
    errors = sorted(validator.iter_errors(section), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"{source}: {definition}.{_key_path(e)}: {e.message}" for e in errors]
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines))
    for key, value in section.items():
        if _is_range(value):
            _check_range(value, f"{definition}.{key}", source)
    return section


def _refuse_non_finite(value: Any, source: str, key: str = "") -> None:
    """Raise a ConfigError naming the first NaN or infinite number in ``value`` (JSON Schema lets them through)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{source}: {key or '<top level>'}: {value} is not a finite number; expected a finite one"
                          " (every comparison with NaN is false, so no range check would catch it)")
    if isinstance(value, dict):
        for name, item in value.items():
            _refuse_non_finite(item, source, f"{key}.{name}" if key else str(name))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _refuse_non_finite(item, source, f"{key}[{index}]")


DEPRECATED_DETECTION_KEYS = ("threshold", "epsilon", "t", "h")
"""Keys of ``systems.<name>.detection`` that older configurations put under ``evaluation``."""


def _move_detection_keys(config: dict[str, Any], source: str) -> None:
    """Move each system's detection keys from ``evaluation`` (where they were) to ``detection``, with a warning."""
    systems = config.get("systems")
    if not isinstance(systems, dict):
        return
    for name, system in systems.items():
        evaluation = system.get("evaluation") if isinstance(system, dict) else None
        if not isinstance(evaluation, dict):
            continue
        moved = [key for key in DEPRECATED_DETECTION_KEYS if key in evaluation]
        if not moved:
            continue
        detection = system.setdefault("detection", {})
        if not isinstance(detection, dict):
            continue  # the schema names the wrong type
        clash = [key for key in moved if key in detection]
        if clash:
            raise ConfigError(f"{source}: systems.{name}: {', '.join(clash)} given under both evaluation (the old"
                              " place) and detection; keep them under detection only")
        for key in moved:
            detection[key] = evaluation.pop(key)
        warnings.warn(f"{source}: systems.{name}.evaluation.{{{','.join(moved)}}} moved to"
                      f" systems.{name}.detection (post-processing settings); write them there", FutureWarning,
                      stacklevel=3)


def _is_range(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value)


def _check_range(value: list[float], key: str, source: str) -> None:
    if value[0] > value[1]:
        raise ConfigError(f"{source}: {key}: range {value} has its lower bound above its upper bound")


def _check_thermal(simulation: dict[str, Any], element: str, key: str, source: str) -> None:
    """Check that the structures' element has a thermal displacement, and that it can be applied."""
    displacements = simulation["thermal"]["rms_displacement"]
    if element not in displacements:
        raise ConfigError(
            f"{source}: {key}.thermal.rms_displacement: no value for {element!r}, the element of"
            f" structures.parameters.element; give its rms displacement [Å] (0 for none), got {displacements}"
        )
    if simulation["projection"] == "finite" and any(u > 0 for u in displacements.values()):
        raise ConfigError(
            f"{source}: {key}.thermal.rms_displacement: {displacements} needs projection: infinite"
            " (only the infinite projection is smeared); set projection: infinite or the displacements to 0"
        )


def largest_field_of_view(image_size: int, sampling: float, scale_jitter: float) -> float:
    """Return the side of the largest training image that can be drawn [Å].

    An image of ``image_size`` pixels at the coarsest drawable sampling,
    ``sampling * (1 + scale_jitter)``. Translations and the rotations by 90 degrees
    and mirrorings move the image but do not enlarge it.

    Parameters
    ----------
    image_size : int
        Side of the square images [pixels].
    sampling : float
        Nominal sampling [Å/pixel].
    scale_jitter : float
        Relative scale jitter; samplings are drawn from sampling * [1 - jitter, 1 + jitter].

    Returns
    -------
    float
        The side [Å].
    """
    return image_size * sampling * (1 + scale_jitter)


def _check_field_of_view(system: dict[str, Any], prefix: str, source: str) -> None:
    """Refuse training images larger than the periodic cell: they would wrap around it."""
    microscope, cell = system["microscope"], system["cell"]
    view = largest_field_of_view(microscope["image_size"], microscope["sampling"], microscope["scale_jitter"])
    if view > min(cell) * (1 + 1e-6):
        coarsest = microscope["sampling"] * (1 + microscope["scale_jitter"])
        largest = int(min(cell) * (1 + 1e-6) / coarsest) // 8 * 8  # image_size is a multiple of 8
        raise ConfigError(
            f"{source}: {prefix}.microscope.image_size: training images of {microscope['image_size']} pixels at up to"
            f" {microscope['sampling']} x (1 + {microscope['scale_jitter']}) = {coarsest:.4g} Å/pixel"
            f" ({prefix}.microscope.sampling x (1 + {prefix}.microscope.scale_jitter)) span {view:.2f} Å, more than"
            f" {prefix}.cell {cell} Å, so they would wrap around the periodic exit wave; lower image_size, sampling"
            f" or scale_jitter, or enlarge the cell (image_size <= {largest} fits)"
        )


def _check_consistency(config: dict[str, Any], source: str) -> None:
    """Checks that a JSON schema cannot express (relations between keys)."""
    for name in config["targets"]:
        if name not in config["systems"]:
            raise ConfigError(
                f"{source}: targets: {name!r} is not a system; known systems: {sorted(config['systems'])}"
            )
    for name, sequence in config["sequences"].items():
        if sequence["system"] not in config["systems"]:
            raise ConfigError(f"{source}: sequences.{name}.system: {sequence['system']!r} is not a system; known"
                              f" systems: {sorted(config['systems'])}")
    for name, system in config["systems"].items():
        prefix = f"systems.{name}"
        simulation = system["simulation"]
        if simulation["storage_sampling"] < ANTIALIAS_FACTOR * simulation["potential_sampling"]:
            raise ConfigError(
                f"{source}: {prefix}.simulation.storage_sampling: {simulation['storage_sampling']} Å must be at"
                f" least {ANTIALIAS_FACTOR} x potential_sampling ({simulation['potential_sampling']} Å), since"
                " abTEM's antialiasing aperture keeps 2/3 of the simulated band"
            )
        _check_thermal(simulation, system["structures"]["parameters"]["element"], f"{prefix}.simulation", source)
        for key, value in system["structures"]["parameters"].items():
            if _is_range(value):
                _check_range(value, f"{prefix}.structures.parameters.{key}", source)
        microscope = system["microscope"]
        for key, value in {**microscope, **(microscope["mtf"] or {})}.items():
            if _is_range(value):
                _check_range(value, f"{prefix}.microscope.{key}", source)
        if microscope["sampling"] * (1 - microscope["scale_jitter"]) < simulation["storage_sampling"] * 0.999:
            raise ConfigError(
                f"{source}: {prefix}.microscope.sampling: the finest image sampling"
                f" {microscope['sampling'] * (1 - microscope['scale_jitter']):.4g} Å (sampling x (1 - scale_jitter))"
                f" is finer than the stored exit waves' {simulation['storage_sampling']} Å"
            )
        _check_field_of_view(system, prefix, source)
        _check_curriculum(system, prefix, source)


def _check_curriculum(system: dict[str, Any], prefix: str, source: str) -> None:
    """Check a curriculum's starting ranges: ordered, and only for parameters the microscope draws."""
    for key, value in system["training"]["curriculum"]["start"].items():
        _check_range(value, f"{prefix}.training.curriculum.start.{key}", source)
        if key == "dose" and system["microscope"]["dose"] is None:
            raise ConfigError(
                f"{source}: {prefix}.training.curriculum.start.dose: the images are noise-free"
                f" ({prefix}.microscope.dose is null), so there is no dose to start from; remove the key"
            )


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the configuration: {error.strerror}") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from error


def merge(base: dict[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``overlay`` into ``base`` in place, mappings key by key, everything else replaced.

    This is how Snakemake combines ``--configfile`` files with the Snakefile's
    ``configfile:``.
    """
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def load_config(path: str | Path, *overlays: str | Path) -> dict[str, Any]:
    """Read a YAML configuration file (and overlays merged over it), validate it and fill in defaults.

    Parameters
    ----------
    path : str or pathlib.Path
        The YAML file, e.g. ``config.yaml``.
    *overlays : str or pathlib.Path
        Files merged over it in order, like Snakemake's ``--configfile``.

    Returns
    -------
    dict
        The validated configuration.

    Raises
    ------
    ConfigError
        If a file cannot be read or parsed, or the result is invalid.
    """
    paths = [Path(p) for p in (path, *overlays)]
    config = _read_yaml(paths[0])
    for overlay in paths[1:]:
        extra = _read_yaml(overlay)
        if not isinstance(config, dict) or not isinstance(extra, dict):
            raise ConfigError(f"{overlay}: expected a mapping at the top level")
        merge(config, extra)
    return validate_config(config, source=" + ".join(map(str, paths)))


def modalities() -> tuple[str, ...]:
    """Return the imaging modes a system may have (``systems.<name>.modality``): the schema's list, the one owner."""
    return tuple(load_schema()["$defs"]["system"]["properties"]["modality"]["enum"])


def generator_default(generator: str, key: str) -> Any:
    """Return the schema's default of a structure generator's parameter, e.g. graphene's ``bond_length`` [Å].

    The material constants the analyses compare with (graphene's bond length, gold's lattice
    constant) are these: the values the shipped models' structures were built with.
    """
    return load_schema()["$defs"][f"{generator}_parameters"]["properties"][key]["default"]


def system_config(config: Mapping[str, Any], system: str) -> dict[str, Any]:
    """Return one system's section of a validated configuration.

    Raises
    ------
    ConfigError
        If the configuration has no such system.
    """
    try:
        return config["systems"][system]
    except KeyError:
        raise ConfigError(f"unknown system {system!r}; the configuration defines {sorted(config['systems'])}") from None


def config_hash(section: Mapping[str, Any]) -> str:
    """Return a short, stable hash of a configuration section.

    The hash changes whenever any value in the section changes, so stores record
    exactly which configuration made them.
    """
    text = json.dumps(section, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
