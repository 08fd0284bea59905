"""The one registry of the image files atomsight reads: extension -> how to read it, its frames and its calibration.

Every command that reads images (``predict``, ``track``), and the help texts that list what
they take, go through :data:`FORMATS`. An entry (:class:`ImageFormat`) says

* ``read``: the whole file as one array and whether its last axis holds colour samples
  (what :func:`atomsight.io.images.read_image` turns into an image or a focal series);
* ``frames``: how many frames the file holds and a function reading frame k as stored,
  without reading the others (what movies and sequences are made of);
* ``frame_shape``: the pixels of one image or frame, from the file's header (what the memory
  of a prediction is judged by before the image is read);
* ``plugin``: the RosettaSciIO plugin that reads the file's calibration (and, for the
  microscope formats, its data), or None for formats without a pixel size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import tifffile

from .microscope_files import MicroscopeImage, read_signal_file

FrameReader = Callable[[int], np.ndarray]
"""Reads frame k of one file, as stored."""

MIN_SIDE = 16
"""Smallest accepted image side [pixels]."""

_TIFF_ALPHA = {tifffile.EXTRASAMPLE.ASSOCALPHA, tifffile.EXTRASAMPLE.UNASSALPHA}
"""TIFF extra-sample types that are an alpha band."""


@dataclass(frozen=True)
class ImageFormat:
    """One readable file format.

    Attributes
    ----------
    name : str
        What it is, for help texts and messages.
    suffixes : tuple of str
        Its extensions, lower case.
    plugin : str or None
        RosettaSciIO plugin (``rsciio.<plugin>``) reading its calibration, None for formats without one.
    read : callable
        ``read(path) -> (array, colour)``: the whole file, and whether its last axis holds colour samples.
    frames : callable
        ``frames(path) -> (count, read_frame)``: the number of frames and a reader of frame k, nothing read yet.
    frame_shape : callable
        ``frame_shape(path) -> (H, W)``: the pixels of one image (of a focal series) or frame,
        from the file's header, no pixel read.
    """

    name: str
    suffixes: tuple[str, ...]
    plugin: str | None
    read: Callable[[Path], tuple[np.ndarray, bool]]
    frames: Callable[[Path], tuple[int, FrameReader]]
    frame_shape: Callable[[Path], tuple[int, int]]

    @property
    def calibrated(self) -> bool:
        """Whether files of this format can hold a pixel size."""
        return self.plugin is not None


def read_microscope_file(path: str | Path) -> MicroscopeImage:
    """Read the image or image sequence of a file of a RosettaSciIO format, lazily, with its pixel size.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If its format has no calibration (``.npy``, ``.png``) or is not supported, or the file
        cannot be read (see :func:`atomsight.io.microscope_files.read_signal_file`).
    """
    path = Path(path)
    image_format = format_of(path)
    if image_format.plugin is None:
        raise ValueError(f"{path}: a {image_format.name} holds no microscope metadata, expected one of"
                         f" {describe_formats(calibrated=True)}")
    return read_signal_file(check_exists(path), image_format.plugin)


def _read_rsciio(path: Path) -> tuple[np.ndarray, bool]:
    """Every frame of a microscope file: (H, W) for one image, (frames, H, W) for several; never colour."""
    image = read_microscope_file(path)
    frames = [image.frame(k) for k in range(image.n_frames)]
    return (frames[0] if len(frames) == 1 else np.stack(frames)), False


def _rsciio_frames(path: Path) -> tuple[int, FrameReader]:
    image = read_microscope_file(path)
    return image.n_frames, image.frame


def _rsciio_frame_shape(path: Path) -> tuple[int, int]:
    """The last two sides of the file's lazy stack of frames."""
    height, width = read_microscope_file(path).frames.shape[-2:]
    return height, width


def _read_npy(path: Path) -> tuple[np.ndarray, bool]:
    """A ``.npy`` array; it is never a colour image."""
    return np.load(path), False


def _npy_frames(path: Path) -> tuple[int, FrameReader]:
    """Frames of an (N, H, W) array, memory-mapped.

    A 2-D array, and a 3-D one whose last two sides are not both images' (at least
    :data:`MIN_SIDE`), such as an image (H, W, 1) or a focal series (H, W, 3), is one frame.
    """
    array = _npy_mapped(path)
    if _npy_is_one_frame(array.shape):
        return 1, lambda k: np.asarray(array)
    return len(array), array.__getitem__


def _npy_frame_shape(path: Path) -> tuple[int, int]:
    """The (H, W) of a ``.npy`` array's frame (:func:`_npy_frames`), from its header."""
    shape = _npy_mapped(path).shape
    height, width = shape[:2] if _npy_is_one_frame(shape) else shape[1:]
    return height, width


def _npy_mapped(path: Path) -> np.ndarray:
    """A ``.npy`` array of two or three axes, memory-mapped."""
    array = np.load(path, mmap_mode="r")
    if array.ndim not in (2, 3):
        raise ValueError(f"{path}: expected an image (H, W) or frames (N, H, W), got shape {array.shape}")
    return array


def _npy_is_one_frame(shape: tuple[int, ...]) -> bool:
    """Whether an array of ``shape`` is one frame (see :func:`_npy_frames`)."""
    return len(shape) == 2 or min(shape[1:]) < MIN_SIDE


def _read_png(path: Path) -> tuple[np.ndarray, bool]:
    """A PNG; a (H, W, n) PNG is grey + alpha (n = 2), RGB (3) or RGBA (4)."""
    array = iio.imread(path)
    return array, array.ndim == 3


def _png_frames(path: Path) -> tuple[int, FrameReader]:
    array, colour = _read_png(path)
    if colour:
        raise ValueError(f"{path}: a colour image, not a grey frame")
    return 1, lambda k: array


def _png_frame_shape(path: Path) -> tuple[int, int]:
    """The height and width in a PNG's header (imageio's properties, nothing decoded)."""
    height, width = iio.improps(path).shape[:2]
    return height, width


def _read_tiff(path: Path) -> tuple[np.ndarray, bool]:
    """Every page of a TIFF, stacked as (pages, ...) if there are several, and whether it is colour.

    Only the photometric tag says what the samples of a pixel are: RGB (colour, the
    samples moved last if stored as separate planes) or grey with an alpha extra sample
    (colour in the sense of :func:`atomsight.io.images.read_image`). Samples of a
    MINISBLACK TIFF without alpha are separate images, e.g. a focal series stored channels-last.
    """
    with tifffile.TiffFile(path) as tif:
        page = tif.pages.first
        array = tif.asarray(key=slice(None))
        if page.photometric == tifffile.PHOTOMETRIC.RGB:
            if page.planarconfig == tifffile.PLANARCONFIG.SEPARATE:
                array = np.moveaxis(array, -3, -1)
            return array, True
        alpha = page.photometric == tifffile.PHOTOMETRIC.MINISBLACK and bool(set(page.extrasamples) & _TIFF_ALPHA)
        return array, alpha


def _tiff_frames(path: Path) -> tuple[int, FrameReader]:
    """The pages of a TIFF, each read when asked for."""
    with tifffile.TiffFile(path) as tif:
        if tif.pages.first.photometric == tifffile.PHOTOMETRIC.RGB:
            raise ValueError(f"{path}: a colour image, not a sequence of grey frames")
        count = len(tif.pages)
    return count, lambda k: tifffile.imread(path, key=k)


def _tiff_frame_shape(path: Path) -> tuple[int, int]:
    """The image length and width of a TIFF's first page, whatever its samples or planes."""
    with tifffile.TiffFile(path) as tif:
        page = tif.pages.first
        return page.imagelength, page.imagewidth


FORMATS = (
    ImageFormat("Gatan DigitalMicrograph file", (".dm3", ".dm4"), "digitalmicrograph", _read_rsciio, _rsciio_frames,
                _rsciio_frame_shape),
    ImageFormat("Velox or Berkeley EMD file", (".emd",), "emd", _read_rsciio, _rsciio_frames, _rsciio_frame_shape),
    ImageFormat("FEI TIA file", (".ser", ".emi"), "tia", _read_rsciio, _rsciio_frames, _rsciio_frame_shape),
    ImageFormat("MRC file", (".mrc",), "mrc", _read_rsciio, _rsciio_frames, _rsciio_frame_shape),
    ImageFormat("TIFF, calibrated when written by DigitalMicrograph, Velox, ImageJ or HyperSpy", (".tif", ".tiff"),
                "tiff", _read_tiff, _tiff_frames, _tiff_frame_shape),
    ImageFormat("NumPy array", (".npy",), None, _read_npy, _npy_frames, _npy_frame_shape),
    ImageFormat("PNG image", (".png",), None, _read_png, _png_frames, _png_frame_shape),
)
"""Every readable format. TIFF data is read with tifffile (colour and focal-series rules of
:func:`_read_tiff`), only its calibration through RosettaSciIO."""

BY_SUFFIX = {suffix: image_format for image_format in FORMATS for suffix in image_format.suffixes}
"""The format of each extension (lower case)."""

DESCRIBES_OTHERS = {".emi"}
"""Extensions of files that describe others beside them (a TIA ``.emi`` and its ``.ser``), left out of folders."""


def format_of(path: str | Path) -> ImageFormat:
    """Return the format of a file by its extension.

    Raises
    ------
    ValueError
        If the extension is not in the registry, naming the file and listing the extensions.
    """
    path = Path(path)
    image_format = BY_SUFFIX.get(path.suffix.lower())
    if image_format is None:
        raise ValueError(f"{path}: unsupported extension {path.suffix!r}, expected one of {', '.join(BY_SUFFIX)}")
    return image_format


def check_exists(path: str | Path) -> Path:
    """Return ``path`` if it is a file; raise FileNotFoundError naming it otherwise."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image file not found: {path}" if not path.exists() else f"{path}: not a file")
    return path


def describe_formats(*, calibrated: bool = False) -> str:
    """The formats as a person reads them, e.g. for ``--help``: ``.dm3/.dm4 (Gatan DigitalMicrograph file), ...``.

    Parameters
    ----------
    calibrated : bool
        Only the formats that can hold a pixel size.
    """
    return ", ".join(f"{'/'.join(f.suffixes)} ({f.name})" for f in FORMATS if f.calibrated or not calibrated)
