import imageio.v3 as iio
import numpy as np
import pytest
import tifffile

from atomsight.io.images import (
    MAX_RESAMPLED_PIXELS,
    check_sampling,
    frame_shape,
    read_image,
    resample,
    resample_to,
    resampled_shape,
)

RNG = np.random.default_rng(0)
REC709 = np.array([0.2125, 0.7154, 0.0721])  # luminance weights of skimage.color.rgb2gray


def test_npy_round_trip(tmp_path):
    image = RNG.normal(size=(20, 30)).astype(np.float32)
    np.save(tmp_path / "image.npy", image)
    result = read_image(tmp_path / "image.npy")
    assert result.dtype == np.float32 and result.shape == (20, 30, 1)
    np.testing.assert_array_equal(result[..., 0], image)


def test_tif_round_trip(tmp_path):
    image = RNG.normal(size=(40, 17)).astype(np.float32)
    tifffile.imwrite(tmp_path / "image.tif", image)
    np.testing.assert_array_equal(read_image(str(tmp_path / "image.tif"))[..., 0], image)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_png_round_trip(tmp_path, dtype):
    image = RNG.integers(0, np.iinfo(dtype).max, size=(32, 24), endpoint=True).astype(dtype)
    iio.imwrite(tmp_path / "image.png", image)
    result = read_image(tmp_path / "image.png")
    assert result.dtype == np.float32 and result.shape == (32, 24, 1)
    np.testing.assert_array_equal(result[..., 0], image)


@pytest.mark.parametrize("bands", [3, 4])
def test_colour_png_becomes_its_luminance(tmp_path, bands):
    image = RNG.integers(0, 255, size=(20, 20, bands), endpoint=True).astype(np.uint8)
    iio.imwrite(tmp_path / "colour.png", image)
    expected = image[..., :3] @ REC709  # the alpha band is dropped
    np.testing.assert_allclose(read_image(tmp_path / "colour.png")[..., 0], expected, rtol=1e-6)


@pytest.mark.parametrize("planarconfig", ["contig", "separate"])
def test_an_rgb_tiff_becomes_its_luminance(tmp_path, planarconfig):
    image = RNG.integers(0, 255, size=(20, 22, 3), endpoint=True).astype(np.uint8)
    stored = image if planarconfig == "contig" else np.moveaxis(image, -1, 0)
    tifffile.imwrite(tmp_path / "colour.tif", stored, photometric="rgb", planarconfig=planarconfig)
    np.testing.assert_allclose(read_image(tmp_path / "colour.tif")[..., 0], image @ REC709, rtol=1e-6)


def test_a_three_sample_minisblack_tiff_is_a_focal_series(tmp_path):
    series = RNG.normal(size=(20, 22, 3)).astype(np.float32)  # channels-last, as some software writes a series
    tifffile.imwrite(tmp_path / "series.tif", series, photometric="minisblack", planarconfig="contig")
    np.testing.assert_array_equal(read_image(tmp_path / "series.tif", channels=3), series)
    with pytest.raises(ValueError, match=r"series.tif: found an array of shape \(20, 22, 3\), expected 1 channel"):
        read_image(tmp_path / "series.tif")


def test_a_colour_image_is_not_a_focal_series(tmp_path):
    colour = RNG.integers(0, 255, size=(20, 22, 3)).astype(np.uint8)
    tifffile.imwrite(tmp_path / "colour.tif", colour, photometric="rgb")
    with pytest.raises(ValueError,
                       match=r"colour.tif: a colour image .* holds one image, expected a focal series of 3"):
        read_image(tmp_path / "colour.tif", channels=3)


def test_alpha_is_dropped_from_a_grey_tiff(tmp_path):
    image = RNG.integers(0, 255, size=(20, 20, 2), endpoint=True).astype(np.uint8)
    tifffile.imwrite(tmp_path / "grey_alpha.tif", image, photometric="minisblack", extrasamples=["unassalpha"])
    np.testing.assert_array_equal(read_image(tmp_path / "grey_alpha.tif")[..., 0], image[..., 0])


@pytest.mark.parametrize("sampling", [0.05, 0.3])
def test_a_pixel_size_more_than_twice_off_the_models_is_refused_naming_both(sampling):
    factor = max(sampling, 0.12) / min(sampling, 0.12)
    with pytest.raises(ValueError, match=rf"image.tif: pixel size {sampling} Å differs from the model's training"
                                         rf" sampling 0.12 Å by a factor {factor:.2f}, more than 2"):
        check_sampling("image.tif", sampling, 0.12)


@pytest.mark.parametrize("sampling", [0.061, 0.12, 0.239])
def test_a_pixel_size_within_twice_the_models_is_quiet(sampling, recwarn):
    check_sampling("image.tif", sampling, 0.12)
    assert not recwarn.list


def test_alpha_is_dropped_from_a_grey_png(tmp_path):
    image = RNG.integers(0, 255, size=(20, 20, 2), endpoint=True).astype(np.uint8)
    iio.imwrite(tmp_path / "grey_alpha.png", image)
    np.testing.assert_array_equal(read_image(tmp_path / "grey_alpha.png")[..., 0], image[..., 0])


def test_focal_series_in_either_layout(tmp_path):
    stack = RNG.normal(size=(3, 20, 25)).astype(np.float32)
    tifffile.imwrite(tmp_path / "pages.tif", stack, photometric="minisblack")
    with tifffile.TiffWriter(tmp_path / "separate.tiff") as tif:
        for page in stack:
            tif.write(page, contiguous=False)  # one series per page, as some cameras write them
    np.save(tmp_path / "stack.npy", stack)
    np.save(tmp_path / "last.npy", np.moveaxis(stack, 0, -1))
    for name in ["pages.tif", "separate.tiff", "stack.npy", "last.npy"]:
        result = read_image(tmp_path / name, channels=3)
        assert result.shape == (20, 25, 3)
        np.testing.assert_array_equal(result, np.moveaxis(stack, 0, -1))


def write_npy(tmp_path, image):
    path = tmp_path / "bad.npy"
    np.save(path, image)
    return path


@pytest.mark.parametrize(
    ("image", "channels", "message"),
    [
        (np.full((20, 20), np.nan), 1, "NaN or infinite"),
        (np.where(np.eye(20) > 0, np.inf, 1.0), 1, "NaN or infinite"),
        (np.full((20, 20), 3.0), 1, "constant"),
        (np.stack([RNG.normal(size=(20, 20)), np.zeros((20, 20))]), 2, r"image 1 of its focal series: constant"),
        (RNG.normal(size=(10, 40)), 1, "at least 16"),
        (RNG.normal(size=(2, 20, 20)), 3, r"shape \(2, 20, 20\), expected 3 channel"),
        (RNG.normal(size=(20, 20)), 2, r"shape \(20, 20\), expected 2 channel"),
        (RNG.normal(size=(20, 20, 3)), 1, r"shape \(20, 20, 3\), expected 1 channel"),
    ],
)
def test_bad_images_raise_naming_the_file(tmp_path, image, channels, message):
    path = write_npy(tmp_path, image)
    with pytest.raises(ValueError, match=message) as error:
        read_image(path, channels=channels)
    assert str(path) in str(error.value)


def test_a_multi_page_tiff_is_not_one_image(tmp_path):
    path = tmp_path / "series.tif"
    tifffile.imwrite(path, RNG.normal(size=(2, 20, 20)).astype(np.float32), photometric="minisblack")
    with pytest.raises(ValueError, match=r"shape \(2, 20, 20\), expected 1 channel"):
        read_image(path)


def test_unsupported_extension_raises_naming_the_file(tmp_path):
    path = tmp_path / "image.jpg"
    path.write_bytes(b"not read")
    with pytest.raises(ValueError, match="unsupported extension '.jpg'") as error:
        read_image(path)
    assert str(path) in str(error.value)


def test_missing_file_raises_naming_it(tmp_path):
    path = tmp_path / "missing.tif"
    with pytest.raises(FileNotFoundError, match="missing.tif"):
        read_image(path)


def gaussian_spot(shape, position, sigma):
    rows, cols = np.indices(shape)
    return np.exp(-((rows - position[0]) ** 2 + (cols - position[1]) ** 2) / (2 * sigma**2))


def centroid(image):
    rows, cols = np.indices(image.shape)
    return np.array([(rows * image).sum(), (cols * image).sum()]) / image.sum()


@pytest.mark.parametrize("factor", [0.6, 1.0, 1.7])
def test_resample_to_keeps_positions_at_position_times_factor(factor):
    position = np.array([50.3, 61.7])
    image = gaussian_spot((128, 140), position, sigma=2.5)[..., None]
    resampled, returned = resample_to(image, 0.12, 0.12 / factor)
    assert returned == pytest.approx(factor, rel=1e-12)
    assert resampled.shape == (round(128 * factor), round(140 * factor), 1)
    # 0.05 pixels is well below the 0.2-0.35 pixel shift of the other pixel-centre
    # convention, (p + 0.5) * factor - 0.5, at these factors.
    np.testing.assert_allclose(centroid(resampled[..., 0]), position * returned, atol=0.05)


def test_resample_interpolates_smooth_images():
    rows, cols = np.indices((60, 70))
    wave = lambda r, c: np.cos(2 * np.pi * r / 23) * np.sin(2 * np.pi * c / 31)  # noqa: E731
    resampled = resample(wave(rows, cols)[..., None], 1.7)[..., 0]
    new_rows, new_cols = np.indices(resampled.shape)
    expected = wave(new_rows / 1.7, new_cols / 1.7)
    # Cubic splines on >= 23 pixels per period are accurate to ~1e-4; the reflection at
    # the borders is not the analytic continuation, so the 8 outer pixels are left out.
    np.testing.assert_allclose(resampled[8:-8, 8:-8], expected[8:-8, 8:-8], atol=1e-3)


def test_shrinking_is_anti_aliased():
    stripes = np.where(np.arange(64) % 2, 1.0, -1.0)[:, None, None] * np.ones((64, 64, 1))
    resampled = resample(stripes, 0.25)
    # Unfiltered, every 4th row would alias to a constant of +-1. The Gaussian of
    # sigma = 1.5 pixels passes exp(-2 pi^2 sigma^2 0.5^2) = 1.5e-5 at the Nyquist frequency
    # (the cubic spline's overshoot makes it 4e-5). The reflection at the borders breaks the
    # alternation, so resampled rows within 8 input pixels (5 sigma) of them are left out.
    assert np.abs(resampled[2:-2]).max() < 1e-4


def test_resample_keeps_channels_apart():
    base = gaussian_spot((40, 50), (20.0, 20.0), sigma=3.0)
    image = np.stack([base, 2 * base, -base], axis=-1)
    resampled = resample(image, 0.7)
    assert resampled.shape == (28, 35, 3) and resampled.dtype == np.float32
    np.testing.assert_allclose(resampled[..., 1], 2 * resampled[..., 0], atol=1e-6)
    np.testing.assert_allclose(resampled[..., 2], -resampled[..., 0], atol=1e-6)


def test_factor_one_returns_a_copy():
    image = RNG.normal(size=(20, 20, 1)).astype(np.float32)
    resampled = resample(image, 1.0)
    np.testing.assert_array_equal(resampled, image)
    assert not np.shares_memory(resampled, image)


def test_unreadable_inputs_are_named_not_tracebacks(tmp_path):
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}, None], dtype=object))
    (tmp_path / "junk.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"junk" * 100)
    np.save(tmp_path / "mask.npy", np.zeros((64, 64), bool))
    for name, message in (("objects.npy", "cannot be read as NumPy array"), ("junk.png", "cannot be read as PNG"),
                          ("mask.npy", "holds bool values, expected numbers")):
        with pytest.raises(ValueError, match=rf"{name}: {message}"):
            read_image(tmp_path / name)
    wave = (np.ones((64, 64)) * (0.6 + 0.8j)).astype(np.complex64)
    wave[10, 10] = 2.0
    np.save(tmp_path / "wave.npy", wave)
    np.testing.assert_allclose(read_image(tmp_path / "wave.npy")[10:12, 10, 0], [4.0, 1.0], rtol=1e-6)  # |psi|^2


# --- the largest image predicted ------------------------------------------------------------------------------


@pytest.mark.parametrize(("shape", "sampling"), [((10000, 10000, 1), 0.1), ((5000, 5000), 0.2), ((20000, 20000), 0.05)])
def test_an_image_of_the_largest_resampled_size_is_accepted(shape, sampling):
    assert MAX_RESAMPLED_PIXELS == 10000 * 10000
    assert resampled_shape(shape, sampling, 0.1) == (10000, 10000)


def test_one_row_more_than_the_limit_is_refused_naming_file_shapes_samplings_and_limit():
    with pytest.raises(ValueError) as refused:
        resampled_shape((5001, 5000), 0.2, 0.1, path="big.tif")  # factor 2: 10002 x 10000
    assert str(refused.value).startswith(
        "big.tif: 5001 x 5000 pixels at 0.2 Å/pixel are 10002 x 10000 pixels at the model's 0.1 Å/pixel,"
        " 100,020,000 pixels: more than the 100,000,000 that one image may have")
    assert "crop it into parts or bin it" in str(refused.value) and "--sampling" in str(refused.value)
    with pytest.raises(ValueError, match="samplings must be positive"):
        resampled_shape((100, 100), 0.0, 0.1)


def test_resample_to_refuses_a_too_large_result_before_allocating_it(monkeypatch):
    monkeypatch.setattr("atomsight.io.images.resample", lambda *args: pytest.fail("resampled"))
    image = np.broadcast_to(np.float32(1.0), (10001, 10000, 1))  # a view of one number: no memory
    with pytest.raises(ValueError, match=r"^an image: 10001 x 10000 pixels at 0.1 Å/pixel are 10001 x 10000 pixels"):
        resample_to(image, 0.1, 0.1)


def emd_movie(path, frames):
    """Write (frames, H, W) as a Berkeley EMD movie, 0.01 nm a pixel, with RosettaSciIO."""
    from rsciio import emd

    axes = [{"name": "time", "size": frames.shape[0], "scale": 1.0, "offset": 0.0, "units": "s", "navigate": True}]
    axes += [{"name": n, "size": s, "scale": 0.01, "offset": 0.0, "units": "nm", "navigate": False}
             for n, s in zip("xy", frames.shape[1:])]
    emd.file_writer(str(path), {"data": frames, "axes": axes, "metadata": {"General": {"title": "movie"}, "Signal": {}},
                                "original_metadata": {}})


@pytest.mark.parametrize(
    ("name", "write"),
    [
        ("image.npy", lambda p: np.save(p, RNG.normal(size=(40, 50)))),
        ("frames.npy", lambda p: np.save(p, RNG.normal(size=(3, 40, 50)))),
        ("series.npy", lambda p: np.save(p, RNG.normal(size=(40, 50, 3)))),
        ("image.tif", lambda p: tifffile.imwrite(p, RNG.normal(size=(40, 50)).astype(np.float32))),
        ("pages.tif", lambda p: tifffile.imwrite(p, RNG.normal(size=(3, 40, 50)).astype(np.float32),
                                                 photometric="minisblack")),
        ("rgb.tif", lambda p: tifffile.imwrite(p, np.zeros((40, 50, 3), np.uint8), photometric="rgb")),
        ("planes.tif", lambda p: tifffile.imwrite(p, np.zeros((3, 40, 50), np.uint8), photometric="rgb",
                                                  planarconfig="separate")),
        ("grey.png", lambda p: iio.imwrite(p, np.zeros((40, 50), np.uint16))),
        ("rgba.png", lambda p: iio.imwrite(p, np.zeros((40, 50, 4), np.uint8))),
        ("movie.emd", lambda p: emd_movie(p, RNG.normal(size=(3, 40, 50)).astype(np.float32))),
    ],
)
def test_the_frame_shape_of_every_format_is_read_from_its_header(tmp_path, name, write):
    write(tmp_path / name)
    assert frame_shape(tmp_path / name) == (40, 50)


def test_the_frame_shape_of_an_unreadable_file_names_it(tmp_path):
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(ValueError, match=r"objects.npy: cannot be read as NumPy array"):
        frame_shape(tmp_path / "objects.npy")
    with pytest.raises(FileNotFoundError, match="missing.tif"):
        frame_shape(tmp_path / "missing.tif")
