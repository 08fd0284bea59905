"""Images and image sequences from the files microscopes write, with their pixel size in Å.

Every microscope format of the registry (:data:`atomsight.io.formats.FORMATS`: Gatan
``.dm3``/``.dm4``, Thermo Fisher Velox and Berkeley (NCEM) ``.emd``, FEI TIA ``.ser``/``.emi``,
``.mrc``, and the calibration of ``.tif``/``.tiff`` as written by DigitalMicrograph, Velox,
ImageJ or HyperSpy) is read through RosettaSciIO (``rsciio``, the reader of HyperSpy),
lazily: the frames stay a dask array until :meth:`MicroscopeImage.frame` reads one.

Rules
-----
- The image is the last two array axes of a signal (x along the first of them, y along
  the second, as everywhere in atomsight). One more leading axis, in time or without a
  unit (:data:`FRAME_UNITS`), is the frame axis of a stack or movie; a leading axis in any
  other unit (the energy-loss axis of an EELS spectrum image, which DigitalMicrograph
  stores first) and a signal of more than three axes (4D-STEM) are refused.
- A file holding several signals (a Velox file with HAADF and DF images, or an EDS map)
  gives its first signal whose image axes are in length units or uncalibrated and whose
  values are numbers (not the RGB preview an Olympus SIS TIFF stores first); the titles of
  the others are logged.
- Pixel size: the scale of the two image axes, converted to Å from their unit
  (:data:`ANGSTROM_PER_UNIT`). Axes without a unit, in pixels or with a non-positive
  scale are uncalibrated (``sampling`` is None); a reciprocal unit (a diffraction
  pattern) or any other unit is refused, as are pixels that are not square.
- Complex data (exit waves) become their intensity ``|psi|^2`` (logged); integer and
  float data keep their values, as float32 once read.
"""

from __future__ import annotations

import importlib
import logging
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import dask.array as da

log = logging.getLogger(__name__)

ANGSTROM_PER_UNIT = {
    "pm": 0.01, "Å": 1.0, "\u212b": 1.0, "A": 1.0, "angstrom": 1.0, "nm": 10.0, "µm": 1e4, "\u03bcm": 1e4, "um": 1e4,
    "m": 1e10,
}
"""Length of one unit [Å], for the units of image axes that microscope files use (µ as micro sign or Greek mu)."""

UNCALIBRATED_UNITS = {None, "", "<undefined>", "px", "pixel", "pixels"}
"""Units of image axes that carry no physical length."""

FRAME_UNITS = UNCALIBRATED_UNITS | {"s", "ms", "µs", "\u03bcs", "us", "ns", "min"}
"""Units of the frame axis of an image sequence: time, or none (a stack)."""

SQUARE_TOLERANCE = 1e-3
"""Largest relative difference of the two pixel sides [Å] still taken as square pixels."""

SAMPLING_TOLERANCE = 0.01
"""Largest relative difference between a file's pixel size and ``--sampling`` before :func:`resolve_sampling` warns."""


@dataclass(frozen=True)
class MicroscopeImage:
    """An image or a sequence of images read from a microscope file.

    Attributes
    ----------
    path : pathlib.Path
        The file.
    frames : dask.array.Array
        The frames, shape (n_frames, H, W) with x along H and y along W; values as in the
        file (intensity for complex data), not yet read.
    sampling : float or None
        Pixel size [Å/pixel], None when the file holds no calibration.
    scale : float or None
        Pixel size in the file's unit [``unit``/pixel], None when uncalibrated.
    unit : str or None
        Unit of the image axes as written in the file (e.g. "nm").
    title : str
        Title of the signal in the file ("" if none).
    acquisition : str or None
        What the file's metadata says the image is, when it says it is not a parallel-beam
        (HRTEM) image: ``"STEM"`` or ``"diffraction"``, with the evidence (see
        :func:`acquisition_of`); None otherwise.
    """

    path: Path
    frames: da.Array
    sampling: float | None
    scale: float | None
    unit: str | None
    title: str
    acquisition: str | None = None

    @property
    def n_frames(self) -> int:
        """Number of frames (1 for a single image)."""
        return self.frames.shape[0]

    def frame(self, index: int) -> np.ndarray:
        """Read frame ``index`` as float32 (H, W).

        Raises
        ------
        ValueError
            If the frame cannot be read (a truncated or corrupt file), naming the file and frame.
        """
        try:
            return np.asarray(self.frames[index].compute(), dtype=np.float32)
        except (OSError, ValueError, EOFError) as error:
            raise ValueError(f"{self.path}: frame {index} could not be read ({error}); is the file"
                             " truncated?") from error


def angstrom_per_pixel(scale: float, unit: str | None, *, path: str | Path) -> float | None:
    """Convert an image axis' scale to Å/pixel; None if the axis is uncalibrated.

    Parameters
    ----------
    scale : float
        Pixel size in ``unit``.
    unit : str or None
        The axis' unit as written in the file.
    path : str or pathlib.Path
        The file, named in errors.

    Returns
    -------
    float or None
        Pixel size [Å/pixel]; None for an axis without a unit, in pixels, or with a
        scale that is not a positive finite number.

    Raises
    ------
    ValueError
        For a reciprocal unit (the file is a diffraction pattern or a Fourier transform)
        or any unit not in :data:`ANGSTROM_PER_UNIT`.
    """
    unit = unit.strip() if isinstance(unit, str) else unit
    if unit is None or unit in UNCALIBRATED_UNITS or not (math.isfinite(scale) and scale > 0):
        return None
    if "1/" in unit.replace(" ", "") or "^-1" in unit or unit.endswith("-1"):
        raise ValueError(f"{path}: image axes in reciprocal unit {unit!r} (a diffraction pattern?), expected a"
                         f" real-space image in one of {', '.join(ANGSTROM_PER_UNIT)}")
    if unit not in ANGSTROM_PER_UNIT:
        raise ValueError(f"{path}: image axes in unit {unit!r}, expected a length in one of"
                         f" {', '.join(ANGSTROM_PER_UNIT)}")
    return scale * ANGSTROM_PER_UNIT[unit]


def read_signal_file(path: Path, plugin: str) -> MicroscopeImage:
    """Read the image or image sequence of an existing file with a RosettaSciIO plugin, lazily, with its pixel size.

    Parameters
    ----------
    path : pathlib.Path
        The file (see the module's rules); :func:`atomsight.io.formats.read_microscope_file`
        finds its plugin in the registry.
    plugin : str
        The RosettaSciIO plugin, ``rsciio.<plugin>``.

    Returns
    -------
    MicroscopeImage
        The frames (not yet read) and the calibration.

    Raises
    ------
    ValueError
        If the file cannot be parsed (truncated or corrupt, or rsciio lacks an optional
        package for it), holds no image, has more than one frame axis or one in a unit other
        than time, image axes in a reciprocal or unknown unit, or pixels that are not
        square. The message names the file.
    """
    signals = _read_signals(path, plugin)
    planes = [s for s in signals if s["data"].ndim >= 2]
    images = [s for s in planes if _is_image(s)]
    if not images:
        if planes and all(s["data"].dtype.names is not None for s in planes):
            raise ValueError(f"{path}: a colour image (RGB samples), expected grey-level images")
        if planes:
            _refuse_unit_of(path, planes[0])
        found = ", ".join(f"{_title(s)!r} {s['data'].shape}" for s in signals)
        raise ValueError(f"{path}: no real-space image found (signals: {found or 'none'}), expected an image or a"
                         " sequence of images with length or uncalibrated axes")
    if len(signals) > 1:
        log.info("%s: reading signal %r, skipping %d other signal(s)", path, _title(images[0]), len(signals) - 1)
    return _microscope_image(path, images[0])


def _read_signals(path: Path, plugin: str) -> list[dict[str, Any]]:
    """Return RosettaSciIO's signal dictionaries of ``path``; any failure to parse becomes a ValueError naming it."""
    reader = importlib.import_module(f"rsciio.{plugin}").file_reader
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # rsciio warns about metadata it does not map
            return list(reader(str(path), lazy=True))
    except ImportError as error:  # e.g. Velox EDS spectrum images need the package 'sparse'
        raise ValueError(f"{path}: rsciio.{plugin} needs an optional package to read this file ({error})") from error
    except Exception as error:  # noqa: BLE001 - the plugins raise anything from struct.error to KeyError
        raise ValueError(f"{path}: could not be read by rsciio.{plugin} ({type(error).__name__}: {error}); is the"
                         " file truncated or corrupt?") from error


STEM_DETECTORS = ("HAADF", "ADF", "DF2", "DF4", "ABF", "BF-S", "DPC", "IDPC")
"""Detector or signal names that only scanning (STEM) images have."""


def acquisition_of(signal: dict[str, Any]) -> str | None:
    """Say what a signal's metadata calls its acquisition when that is not a parallel-beam image.

    Read from RosettaSciIO's ``metadata`` (``Acquisition_instrument.TEM.acquisition_mode``,
    ``Signal.signal_type``), a Velox file's detector (``BinaryResult.Detector`` and its
    ``DetectorType``), a DigitalMicrograph file's ``Microscope Info`` (``Operation Mode``
    SCANNING, ``Illumination Mode`` STEM, ``Imaging Mode`` DIFFRACTION) and the signal's
    title (:data:`STEM_DETECTORS`).

    Returns
    -------
    str or None
        ``"STEM (<evidence>)"`` or ``"diffraction (<evidence>)"``; None when the metadata
        says nothing of the kind.
    """
    metadata, original = signal.get("metadata", {}), signal.get("original_metadata", {})
    tem = metadata.get("Acquisition_instrument", {}).get("TEM", {})
    if str(tem.get("acquisition_mode", "")).upper() == "STEM":
        return "STEM (acquisition mode STEM)"
    if "diffraction" in str(metadata.get("Signal", {}).get("signal_type", "")).lower():
        return "diffraction (signal type {!r})".format(metadata["Signal"]["signal_type"])
    detector = original.get("DetectorMetadata", {})
    if detector.get("DetectorType") == "ScanningDetector":
        return f"STEM (Velox scanning detector {detector.get('DetectorName', '?')})"
    info = (original.get("ImageList", {}).get("TagGroup0", {}).get("ImageTags", {}).get("Microscope Info", {}))
    if str(info.get("Imaging Mode", "")).upper() == "DIFFRACTION":
        return "diffraction (DigitalMicrograph imaging mode DIFFRACTION)"
    if str(info.get("Operation Mode", "")).upper() == "SCANNING" or str(info.get("Illumination Mode", "")) == "STEM":
        return "STEM (DigitalMicrograph operation mode {}, illumination mode {})".format(
            info.get("Operation Mode", "?"), info.get("Illumination Mode", "?"))
    title = _title(signal).upper()
    for name in STEM_DETECTORS:
        if title == name or title.startswith(f"{name} ") or title.startswith(f"{name}-"):
            return f"STEM (signal {_title(signal)!r})"
    return None


def _title(signal: dict[str, Any]) -> str:
    """Return the title of a signal in its file ("" if none)."""
    return str(signal.get("metadata", {}).get("General", {}).get("title", ""))


def _array_axes(signal: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the axes of a signal in array order."""
    axes = signal["axes"]
    if all("index_in_array" in a for a in axes):
        axes = sorted(axes, key=lambda a: int(a["index_in_array"]))
    return axes


def _image_axes(signal: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the axes of the last two array dimensions (x, then y), in array order."""
    return _array_axes(signal)[-2:]


def _is_image(signal: dict[str, Any]) -> bool:
    """Whether a signal holds numbers (not RGB) on two image axes of one unit, a length or none, and frames in time."""
    units = {a.get("units") for a in _image_axes(signal)}
    frame_units = {a.get("units") for a in _array_axes(signal)[:-2]}
    return (signal["data"].dtype.names is None and len(units) == 1
            and units <= set(ANGSTROM_PER_UNIT) | UNCALIBRATED_UNITS and frame_units <= FRAME_UNITS)


def _refuse_unit_of(path: Path, signal: dict[str, Any]) -> None:
    """Raise a ValueError naming ``path`` if an axis of ``signal`` is in a unit no image has; else return."""
    for axis in _image_axes(signal):
        angstrom_per_pixel(1.0, axis.get("units"), path=path)  # raises for a reciprocal or unknown unit
    for axis in _array_axes(signal)[:-2]:
        if axis.get("units") not in FRAME_UNITS:
            raise ValueError(f"{path}: signal {_title(signal)!r} {tuple(signal['data'].shape)} has its leading axis"
                             f" {axis.get('name')!r} in {axis.get('units')!r} (a spectrum image?), expected frames"
                             " along time or an axis without a unit")


def _microscope_image(path: Path, signal: dict[str, Any]) -> MicroscopeImage:
    """Build a :class:`MicroscopeImage` from one signal dictionary."""
    import dask.array as da  # here, not at the top: reading .npy or .png images needs no dask (0.2-0.4 s to import)

    data = signal["data"]
    data = data if isinstance(data, da.Array) else da.from_array(data)
    if data.ndim > 3:
        raise ValueError(f"{path}: signal {_title(signal)!r} of shape {data.shape}, expected an image (H, W) or a"
                         " sequence (frames, H, W)")
    if np.iscomplexobj(data):
        log.info("%s: complex data (an exit wave?) read as its intensity |psi|^2", path)
        data = data.real**2 + data.imag**2
    x_axis, y_axis = _image_axes(signal)
    sides = [angstrom_per_pixel(float(a["scale"]), a.get("units"), path=path) for a in (x_axis, y_axis)]
    x_side, y_side = sides
    sampling = None if x_side is None or y_side is None else x_side
    if x_side is not None and y_side is not None and abs(y_side - x_side) > SQUARE_TOLERANCE * x_side:
        raise ValueError(f"{path}: pixels of {x_side:g} x {y_side:g} Å, expected square pixels")
    return MicroscopeImage(
        path=path, frames=data.reshape((-1, *data.shape[-2:])), sampling=sampling,
        scale=None if sampling is None else float(x_axis["scale"]), unit=x_axis.get("units"), title=_title(signal),
        acquisition=acquisition_of(signal),
    )


def resolve_sampling(path: str | Path, file_sampling: float | None, override: float | None) -> float:
    """Return the pixel size to use for a file: ``override`` if given, else the file's.

    Parameters
    ----------
    path : str or pathlib.Path
        The file, named in the error and the warning.
    file_sampling : float or None
        Pixel size from the file's metadata [Å/pixel], None if it has none.
    override : float or None
        Pixel size given by hand (``--sampling``) [Å/pixel].

    Returns
    -------
    float
        The pixel size [Å/pixel].

    Raises
    ------
    ValueError
        If neither is given, or ``override`` is not positive.

    Warns
    -----
    UserWarning
        If both are given and differ by more than :data:`SAMPLING_TOLERANCE` of the file's.
    """
    if override is None:
        if file_sampling is None:
            raise ValueError(f"{path}: the file holds no pixel size (no calibrated length axes); give it with"
                             " --sampling [Å/pixel]")
        return file_sampling
    if not override > 0:
        raise ValueError(f"{path}: the image sampling must be a positive number of Å/pixel, got {override!r}")
    if file_sampling is not None and abs(override - file_sampling) > SAMPLING_TOLERANCE * file_sampling:
        warnings.warn(f"{path}: --sampling {override:g} Å differs from the file's pixel size {file_sampling:g} Å by"
                      f" {abs(override / file_sampling - 1):.1%} (more than {SAMPLING_TOLERANCE:.0%}); using"
                      f" {override:g} Å", UserWarning, stacklevel=2)
    return override
