"""Experimental images: read them from disk and resample them to the network's sampling.

Pixel convention (the one of abTEM and of the training images): the centre of pixel
``i`` lies at position ``i * sampling``, so pixel index 0 is the origin and positions
are measured in pixels from the centre of the first pixel. Resampling by ``factor``
puts pixel ``j`` of the result at input position ``j / factor``; a feature at input
position ``p`` [pixels] is at ``p * factor`` in the resampled image, and a position
``q`` found there maps back to ``q / factor`` in the input.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
from scipy import ndimage
from skimage.color import rgb2gray

from .formats import BY_SUFFIX, DESCRIBES_OTHERS, MIN_SIDE, check_exists, format_of, read_microscope_file

MAX_SAMPLING_RATIO = 2.0
"""Largest ratio, either way, of an image's pixel size to the model's that :func:`check_sampling` accepts.

The model was trained on images whose detector MTF and noise spectrum are those of
its own pixel size. Resampling by more than this factor leaves an image whose noise is
correlated over two or more pixels, or whose MTF is squeezed to half the band or less,
far from anything the model has seen.
"""

MAX_RESAMPLED_PIXELS = 100_000_000
"""The most pixels an image may have at the model's sampling to be predicted (10 000 x 10 000).

A prediction holds the resampled image's whole arrays at once (the normalised image, the
stitched maps, the post-processing's masks and labels, the overlay), so its memory grows with
the image: BENCHMARKS.md measured peak resident sets of 2.05, 3.77 and 11.6 GB at 2048², 4096²
and 8192² pixels, 156 bytes a pixel more between the last two (7.8 GB for 50.3 Mpixels). At this
limit that gives 11.6 GB + 156 B x (10⁸ - 8192²) = 16.7 GB, so a machine of 24 GB keeps 7 GB for
its system, the image as read (at most 4 times as many pixels, :data:`MAX_SAMPLING_RATIO`) and
images whose post-processing needs more than the benchmark's noise did. The next power-of-two
square, 16384², would need about 43 GB.
"""


def image_files(paths: Iterable[str | Path]) -> list[Path]:
    """Return the image files named by ``paths``, a folder standing for the image files in it.

    A folder gives its files with an extension of the registry
    (:data:`atomsight.io.formats.FORMATS`), sorted by name, without descending into
    subfolders; TIA ``.emi`` files, which describe the ``.ser`` files beside them, are left
    out so that each image is read once. Any other path is returned as it is, to be checked
    when it is read.

    Raises
    ------
    FileNotFoundError
        If a folder holds no image file.
    """
    readable = BY_SUFFIX.keys() - DESCRIBES_OTHERS
    files = []
    for path in map(Path, paths):
        if not path.is_dir():
            files.append(path)
            continue
        found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in readable)
        if not found:
            raise FileNotFoundError(f"{path}: folder holds no image file, expected files with one of the extensions"
                                    f" {', '.join(sorted(readable))}")
        files += found
    return files


def file_sampling(path: str | Path) -> float | None:
    """Return an image file's pixel size from its metadata [Å/pixel], None if it holds none.

    Files of a calibrated format are read through RosettaSciIO
    (:func:`atomsight.io.formats.read_microscope_file`, which raises ValueError naming the
    file for a reciprocal or unknown unit); ``.npy`` and ``.png`` files hold no calibration.
    """
    return read_microscope_file(path).sampling if format_of(path).calibrated else None


def frame_shape(path: str | Path) -> tuple[int, int]:
    """Return the (H, W) of one image or frame of a file from its header, without reading its pixels.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If its format is not in the registry or its header cannot be read, naming the file.
    """
    image_format = format_of(path)
    with _named_errors(path, image_format.name):
        return image_format.frame_shape(check_exists(path))


def resampled_shape(
    shape: Sequence[int], sampling: float, target_sampling: float, *, path: str | Path | None = None
) -> tuple[int, int]:
    """Return the (H, W) of an image once resampled to the model's sampling; refuse one too large to predict.

    Parameters
    ----------
    shape : sequence of int
        The image's shape, (H, W) or (H, W, C) [pixels].
    sampling : float
        Its pixel size [Å/pixel].
    target_sampling : float
        The pixel size it is resampled to, the model's [Å/pixel].
    path : str or pathlib.Path, optional
        The image's file, named in the error.

    Returns
    -------
    tuple of int
        ``(round(H * factor), round(W * factor))`` with ``factor = sampling / target_sampling``,
        the shape :func:`resample` gives.

    Raises
    ------
    ValueError
        If a sampling is not positive, or the resampled image would have more than
        :data:`MAX_RESAMPLED_PIXELS` pixels; the message names the file, both shapes, the
        samplings and the limit.
    """
    if not (sampling > 0 and target_sampling > 0):
        raise ValueError(f"samplings must be positive, got {sampling} and {target_sampling} Å/pixel")
    height, width = _scaled(shape, sampling / target_sampling)
    if height * width > MAX_RESAMPLED_PIXELS:
        where = "an image" if path is None else str(path)
        raise ValueError(
            f"{where}: {shape[0]} x {shape[1]} pixels at {sampling:g} Å/pixel are {height} x {width} pixels at the"
            f" model's {target_sampling:g} Å/pixel, {height * width:,} pixels: more than the {MAX_RESAMPLED_PIXELS:,}"
            " that one image may have (predicting that many takes about 17 GB of memory); crop it into parts or bin"
            " it, or give its true pixel size with --sampling if the file's is wrong"
        )
    return height, width


def _scaled(shape: Sequence[int], factor: float) -> tuple[int, int]:
    """The first two sides of ``shape`` times ``factor``, rounded [pixels]."""
    return round(shape[0] * factor), round(shape[1] * factor)


def frame_count(path: str | Path) -> int:
    """Return the number of frames of an image file, without reading them."""
    image_format = format_of(path)
    with _named_errors(path, image_format.name):
        return image_format.frames(check_exists(path))[0]


@contextlib.contextmanager
def _named_errors(path: str | Path, format_name: str) -> Iterator[None]:
    """Turn a reader's error that does not name the file (a corrupt file, an object array) into one that does."""
    try:
        yield
    except (ValueError, OSError, TypeError, SyntaxError) as error:
        if str(path) in str(error) or isinstance(error, FileNotFoundError):
            raise
        raise ValueError(f"{path}: cannot be read as {format_name} ({type(error).__name__}: {error}); is the file"
                         " truncated or corrupt?") from None


def frame_problem(frame: np.ndarray, shape: tuple[int, ...] | None = None) -> str | None:
    """Say what makes a frame (or one image of a focal series) unusable, or None: the one rule for every reader.

    A frame is unusable when it is not a grey image (H, W), is smaller than
    :data:`MIN_SIDE` along a side, has another shape than ``shape`` (the sequence's first
    frame), holds NaN or infinite values, or is constant (a dropped camera frame).
    """
    if frame.ndim != 2:
        return f"expected a grey frame (H, W), got shape {frame.shape}"
    if min(frame.shape) < MIN_SIDE:
        return f"image of {frame.shape[0]} x {frame.shape[1]} pixels, expected at least {MIN_SIDE} along each side"
    if shape is not None and frame.shape != shape:
        return f"shape {frame.shape} differs from the first frame's {shape}"
    if not np.isfinite(frame).all():
        return "holds NaN or infinite values, expected finite values only"
    if frame.min() == frame.max():
        return "constant, expected varying intensities"
    return None


def read_frames(path: str | Path) -> Iterator[tuple[int, np.ndarray]]:
    """Yield the usable frames of a file's sequence one at a time, as (index, float32 (H, W, 1)).

    A frame that :func:`frame_problem` finds unusable, of another shape than the first
    usable one, or that cannot be read (a truncated file) is skipped with a warning naming
    the file and the frame; the other frames are still given.

    Raises
    ------
    ValueError
        If no frame is usable, naming the file.
    """
    path = check_exists(path)
    image_format = format_of(path)
    with _named_errors(path, image_format.name):
        count, read = image_format.frames(path)
    usable, shape = 0, None
    problem: str | None
    for index in range(count):
        try:
            frame = np.asarray(read(index), dtype=np.float32)
        except (ValueError, OSError) as error:  # a truncated file; the error names the file and frame already
            problem = f"unreadable ({error})"
        else:
            problem = frame_problem(frame, shape)
        if problem:
            warnings.warn(f"{path} frame {index}: {problem}; frame skipped", UserWarning, stacklevel=2)
            continue
        usable, shape = usable + 1, frame.shape
        yield index, frame[..., None]
    if not usable:
        raise ValueError(f"{path}: none of its {count} frames is usable")


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
        A file of one of the registry's formats (:data:`atomsight.io.formats.FORMATS`);
        a microscope file's frames are read as a stack (complex data as intensity, see
        :mod:`atomsight.io.microscope_files`).
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
        If the extension is not supported, the array does not hold ``channels`` images (a
        colour image holds one), or an image (a channel) is unusable by
        :func:`frame_problem` (too small, not finite, constant). The message names the file.
    """
    path = Path(path)
    if channels < 1:
        raise ValueError(f"{path}: channels must be at least 1, got {channels}")
    image_format = format_of(path)
    with _named_errors(path, image_format.name):
        array, colour = image_format.read(check_exists(path))
    array = np.asarray(array)
    if array.dtype.kind not in "uifc":
        raise ValueError(f"{path}: holds {array.dtype} values, expected numbers (intensities)")
    if array.dtype.kind == "c":  # an exit wave: its intensity, as for complex data in microscope files
        array = array.real**2 + array.imag**2
    if colour and array.shape[-1] in (2, 3, 4):
        if channels != 1:
            raise ValueError(f"{path}: a colour image of shape {array.shape} holds one image, expected a focal series"
                             " of"
                             f" {channels} grey images as ({channels}, H, W) or (H, W, {channels})")
        array = _luminance(array)
    image = _channels_last(array, channels, path).astype(np.float32)
    for k in range(image.shape[-1]):
        problem = frame_problem(image[..., k])
        if problem:
            where = f"image {k} of its focal series" if channels > 1 else "image"
            raise ValueError(f"{path}: {where}: {problem}")
    return image


def _luminance(array: np.ndarray) -> np.ndarray:
    """Return the grey level of a (H, W, 2) grey + alpha, (H, W, 3) RGB or (H, W, 4) RGBA image."""
    if array.shape[-1] == 2:
        return array[..., 0]
    return rgb2gray(array[..., :3].astype(np.float64))


def check_sampling(path: str | Path, sampling: float, model_sampling: float) -> None:
    """Refuse an image whose pixel size is more than :data:`MAX_SAMPLING_RATIO` from the model's, either way.

    Parameters
    ----------
    path : str or pathlib.Path
        The image file, named in the error.
    sampling : float
        Pixel size of the image [Å/pixel].
    model_sampling : float
        Pixel size the model was trained at [Å/pixel].

    Raises
    ------
    ValueError
        If the ratio of the two lies outside [1 / MAX_SAMPLING_RATIO, MAX_SAMPLING_RATIO].
    """
    ratio = sampling / model_sampling
    if not 1 / MAX_SAMPLING_RATIO <= ratio <= MAX_SAMPLING_RATIO:
        raise ValueError(
            f"{path}: pixel size {sampling:g} Å differs from the model's training sampling {model_sampling:g} Å by a"
            f" factor {max(ratio, 1 / ratio):.2f}, more than {MAX_SAMPLING_RATIO:g}: resampled that far, the image's"
            " noise and detector MTF are unlike anything the model was trained on (record it at"
            f" {model_sampling / MAX_SAMPLING_RATIO:g}-{model_sampling * MAX_SAMPLING_RATIO:g} Å/pixel, or give the"
            " right pixel size with --sampling if the file's is wrong)"
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
    shape = _scaled(image.shape, factor)
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

    Raises
    ------
    ValueError
        If a sampling is not positive or the result would exceed :data:`MAX_RESAMPLED_PIXELS`
        (:func:`resampled_shape`), before anything is allocated.
    """
    resampled_shape(np.shape(image), sampling, target_sampling)
    factor = sampling / target_sampling
    return resample(image, factor), factor
