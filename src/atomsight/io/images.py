"""Experimental images: read them from disk and resample them to the network's sampling.

Pixel convention (the one of abTEM and of the training images): the centre of pixel
``i`` lies at position ``i * sampling``, so pixel index 0 is the origin and positions
are measured in pixels from the centre of the first pixel. Resampling by ``factor``
puts pixel ``j`` of the result at input position ``j / factor``; a feature at input
position ``p`` [pixels] is at ``p * factor`` in the resampled image, and a position
``q`` found there maps back to ``q / factor`` in the input.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import tifffile
from scipy import ndimage
from skimage.color import rgb2gray

from .microscope_files import FORMATS, read_microscope_file

MIN_SIDE = 16
"""Smallest accepted image side [pixels]."""

MAX_SAMPLING_RATIO = 2.0
"""Largest ratio, either way, of an image's pixel size to the model's before :func:`check_sampling` warns.

The model was trained on images whose detector MTF and noise spectrum are those of
its own pixel size. Resampling by more than this factor leaves an image whose noise is
correlated over two or more pixels, or whose MTF is squeezed to half the band or less,
far from anything the model has seen.
"""

_TIFF_ALPHA = {tifffile.EXTRASAMPLE.ASSOCALPHA, tifffile.EXTRASAMPLE.UNASSALPHA}
"""TIFF extra-sample types that are an alpha band."""


def _read_npy(path: Path) -> tuple[np.ndarray, bool]:
    """Read a ``.npy`` array; it is never a colour image."""
    return np.load(path), False


def _read_png(path: Path) -> tuple[np.ndarray, bool]:
    """Read a PNG; a (H, W, n) PNG is grey + alpha (n = 2), RGB (3) or RGBA (4)."""
    array = iio.imread(path)
    return array, array.ndim == 3


def _read_tiff(path: Path) -> tuple[np.ndarray, bool]:
    """Read every page of a TIFF, stacked as (pages, ...) if there are several, and whether it is colour.

    Only the photometric tag says what the samples of a pixel are: RGB (colour, the
    samples moved last if stored as separate planes) or grey with an alpha extra sample
    (colour in the sense of :func:`_luminance`). Samples of a MINISBLACK TIFF without
    alpha are separate images, e.g. a focal series stored channels-last.
    """
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        array = tif.asarray(key=slice(None))
        if page.photometric == tifffile.PHOTOMETRIC.RGB:
            if page.planarconfig == tifffile.PLANARCONFIG.SEPARATE:
                array = np.moveaxis(array, -3, -1)
            return array, True
        alpha = page.photometric == tifffile.PHOTOMETRIC.MINISBLACK and bool(set(page.extrasamples) & _TIFF_ALPHA)
        return array, alpha


def _read_microscope(path: Path) -> tuple[np.ndarray, bool]:
    """Read every frame of a microscope file: (H, W) for one image, (frames, H, W) for several; never colour."""
    image = read_microscope_file(path)
    frames = [image.frame(k) for k in range(image.n_frames)]
    return (frames[0] if len(frames) == 1 else np.stack(frames)), False


MICROSCOPE_SUFFIXES = tuple(s for s in FORMATS if s not in (".tif", ".tiff"))
"""Extensions of the microscope formats read through :mod:`atomsight.io.microscope_files`; TIFF data is read with
tifffile (colour and focal-series rules of :func:`_read_tiff`), only its calibration through RosettaSciIO."""

READERS = {
    ".npy": _read_npy, ".tif": _read_tiff, ".tiff": _read_tiff, ".png": _read_png,
    **dict.fromkeys(MICROSCOPE_SUFFIXES, _read_microscope),
}
"""Reader of each supported file extension (lower case): the array and whether its last axis holds colour samples."""


def image_files(paths: Iterable[str | Path]) -> list[Path]:
    """Return the image files named by ``paths``, a folder standing for the image files in it.

    A folder gives its files with a supported extension (:data:`READERS`), sorted by name,
    without descending into subfolders; TIA ``.emi`` files, which describe the ``.ser``
    files beside them, are left out so that each image is read once. Any other path is
    returned as it is, to be checked when it is read.

    Raises
    ------
    FileNotFoundError
        If a folder holds no image file.
    """
    files = []
    for path in map(Path, paths):
        if not path.is_dir():
            files.append(path)
            continue
        found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in READERS.keys() - {".emi"})
        if not found:
            raise FileNotFoundError(f"{path}: folder holds no image file, expected files with one of the extensions"
                                    f" {', '.join(s for s in READERS if s != '.emi')}")
        files += found
    return files


def file_sampling(path: str | Path) -> float | None:
    """Return an image file's pixel size from its metadata [Å/pixel], None if it holds none.

    Microscope files and TIFFs are read through RosettaSciIO
    (:func:`atomsight.io.microscope_files.read_microscope_file`, which raises ValueError
    naming the file for a reciprocal or unknown unit); ``.npy`` and ``.png`` files hold
    no calibration.
    """
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        return None
    return read_microscope_file(path).sampling


def frame_count(path: str | Path) -> int:
    """Return the number of frames of a microscope file (1 for any other file), without reading them."""
    path = Path(path)
    return read_microscope_file(path).n_frames if path.suffix.lower() in MICROSCOPE_SUFFIXES else 1


def read_frames(path: str | Path) -> Iterator[tuple[int, np.ndarray]]:
    """Yield the usable frames of a microscope file's sequence one at a time, as (index, float32 (H, W, 1)).

    This is where a sequence's unusable frames are found: a frame that is constant (all
    zeros, as a dropped camera frame), holds NaN or infinite values, or cannot be read
    (a truncated file) is skipped with a warning naming the file and the frame, and the
    other frames are still given.

    Raises
    ------
    ValueError
        If no frame is usable, naming the file.
    """
    image = read_microscope_file(path)
    usable = 0
    for index in range(image.n_frames):
        try:
            frame = image.frame(index)[..., None]
            _check_values(frame, f"{image.path} frame {index}")
        except ValueError as error:
            warnings.warn(f"{error}; frame skipped", UserWarning, stacklevel=2)
            continue
        usable += 1
        yield index, frame
    if not usable:
        raise ValueError(f"{image.path}: none of its {image.n_frames} frames is usable")


def read_image(path: str | Path, *, channels: int = 1) -> np.ndarray:
    """Read an experimental image or focal series as float32 (H, W, C).

    A 2D image becomes (H, W, 1). A colour image, which is one image, becomes its
    luminance (Rec. 709 weights of ``skimage.color.rgb2gray``) with any alpha band
    dropped: a PNG of 2 (grey + alpha), 3 (RGB) or 4 (RGBA) bands, or a TIFF whose
    photometric tag is RGB (or grey with an alpha extra sample). A focal series of
    ``channels`` images may be stored as (N, H, W), such as the N pages of a TIFF,
    or as (H, W, N), such as a MINISBLACK TIFF of N samples per pixel; it is returned
    as (H, W, N). Values keep their units (no rescaling).

    Parameters
    ----------
    path : str or pathlib.Path
        A ``.npy``, ``.tif``, ``.tiff`` or ``.png`` file, or a microscope file
        (``.dm3``, ``.dm4``, ``.emd``, ``.ser``, ``.emi``, ``.mrc``) whose frames are read as
        a stack (complex data as intensity, see :mod:`atomsight.io.microscope_files`).
    channels : int, optional
        Number of channels the model expects (images in the focal series), default 1.

    Returns
    -------
    numpy.ndarray
        float32 image, shape (H, W, channels).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the extension is not supported, the array does not hold ``channels``
        images (a colour image holds one), a side is shorter than 16 pixels, a value
        is NaN or infinite, or an image (a channel) is constant. The message names
        the file.
    """
    path = Path(path)
    if channels < 1:
        raise ValueError(f"{path}: channels must be at least 1, got {channels}")
    suffix = path.suffix.lower()
    if suffix not in READERS:
        raise ValueError(f"{path}: unsupported extension {path.suffix!r}, expected one of {', '.join(READERS)}")
    if not path.is_file():
        raise FileNotFoundError(f"image file not found: {path}")
    array, colour = READERS[suffix](path)
    if colour and array.shape[-1] in (2, 3, 4):
        if channels != 1:
            raise ValueError(f"{path}: a colour image of shape {array.shape} holds one image, expected a focal series of"
                             f" {channels} grey images as ({channels}, H, W) or (H, W, {channels})")
        array = _luminance(array)
    image = _channels_last(array, channels, path).astype(np.float32)
    _check_values(image, path)
    return image


def _luminance(array: np.ndarray) -> np.ndarray:
    """Return the grey level of a (H, W, 2) grey + alpha, (H, W, 3) RGB or (H, W, 4) RGBA image."""
    if array.shape[-1] == 2:
        return array[..., 0]
    return rgb2gray(array[..., :3].astype(np.float64))


def check_sampling(path: str | Path, sampling: float, model_sampling: float) -> None:
    """Warn if an image's pixel size is more than :data:`MAX_SAMPLING_RATIO` from the model's, either way.

    Parameters
    ----------
    path : str or pathlib.Path
        The image file, named in the warning.
    sampling : float
        Pixel size of the image [Å/pixel].
    model_sampling : float
        Pixel size the model was trained at [Å/pixel].
    """
    ratio = sampling / model_sampling
    if not 1 / MAX_SAMPLING_RATIO <= ratio <= MAX_SAMPLING_RATIO:
        warnings.warn(
            f"{path}: pixel size {sampling:g} Å differs from the model's training sampling {model_sampling:g} Å by a"
            f" factor {max(ratio, 1 / ratio):.2f} (more than {MAX_SAMPLING_RATIO:g}); resampled that far, the image's"
            " noise and detector MTF are unlike the training images' and the detections may be unreliable",
            UserWarning, stacklevel=2,
        )


def _channels_last(array: np.ndarray, channels: int, path: Path) -> np.ndarray:
    """Return ``array`` as (H, W, channels): add the channel axis or move it last."""
    if array.ndim == 2 and channels == 1:
        return array[..., None]
    if array.ndim == 3 and array.shape[-1] == channels:
        return array
    if array.ndim == 3 and array.shape[0] == channels:
        return np.moveaxis(array, 0, -1)
    expected = "(H, W)" if channels == 1 else f"({channels}, H, W) or (H, W, {channels})"
    raise ValueError(f"{path}: found an array of shape {array.shape}, expected {channels} channel(s) as {expected}")


def _check_values(image: np.ndarray, path: Path | str) -> None:
    """Raise ValueError naming ``path`` if ``image`` is too small, not finite or has a constant channel."""
    if min(image.shape[:2]) < MIN_SIDE:
        raise ValueError(f"{path}: image of {image.shape[0]} x {image.shape[1]} pixels, expected at least {MIN_SIDE} along each side")
    if not np.isfinite(image).all():
        raise ValueError(f"{path}: image holds NaN or infinite values, expected finite values only")
    constant = np.flatnonzero(image.std(axis=(0, 1)) == 0)
    if constant.size:
        raise ValueError(f"{path}: image channel(s) {constant.tolist()} constant, expected varying intensities")


def resample(image: np.ndarray, factor: float) -> np.ndarray:
    """Resample an (H, W, C) image by ``factor`` with cubic splines, anti-aliased when shrinking.

    The result has ``round(H * factor) x round(W * factor)`` pixels and pixel ``j``
    samples the input at position ``j / factor`` (module convention: pixel centres at
    integer positions, the first pixel fixed), so its sampling is exactly the input
    sampling divided by ``factor``. Beyond the last input pixel the image is extended
    by reflection. When shrinking, each channel is first blurred by a Gaussian of
    standard deviation ``(1 / factor - 1) / 2`` input pixels, the anti-aliasing filter
    of ``skimage.transform.rescale``.

    Parameters
    ----------
    image : numpy.ndarray
        Image, shape (H, W, C).
    factor : float
        Ratio of the new to the old number of pixels per length (old sampling / new
        sampling), > 0.

    Returns
    -------
    numpy.ndarray
        float32 image, shape (round(H * factor), round(W * factor), C); a copy when
        ``factor == 1``.
    """
    if factor <= 0:
        raise ValueError(f"resampling factor must be positive, got {factor}")
    image = np.asarray(image, dtype=np.float32)
    if factor == 1:
        return image.copy()
    if factor < 1:
        sigma = (1 / factor - 1) / 2
        image = ndimage.gaussian_filter(image, sigma=(sigma, sigma, 0), mode="reflect")
    shape = (round(image.shape[0] * factor), round(image.shape[1] * factor))
    channels = [
        ndimage.affine_transform(image[..., c], [1 / factor, 1 / factor], output_shape=shape, order=3, mode="reflect")
        for c in range(image.shape[2])
    ]
    return np.stack(channels, axis=-1).astype(np.float32)


def resample_to(image: np.ndarray, sampling: float, target_sampling: float) -> tuple[np.ndarray, float]:
    """Resample an (H, W, C) image from ``sampling`` to ``target_sampling``.

    Parameters
    ----------
    image : numpy.ndarray
        Image, shape (H, W, C).
    sampling : float
        Pixel size of ``image`` [Å/pixel].
    target_sampling : float
        Pixel size wanted, the network's training sampling [Å/pixel].

    Returns
    -------
    resampled : numpy.ndarray
        float32 image with pixel size exactly ``target_sampling``, shape
        (round(H * factor), round(W * factor), C).
    factor : float
        ``sampling / target_sampling``, the exact scale of the position mapping: a
        position ``q`` [pixels] in ``resampled`` is at ``q / factor`` in ``image``.
        It differs from new shape / old shape by less than half a pixel over the image.
    """
    if sampling <= 0 or target_sampling <= 0:
        raise ValueError(f"samplings must be positive, got {sampling} and {target_sampling} Å/pixel")
    factor = sampling / target_sampling
    return resample(image, factor), factor
