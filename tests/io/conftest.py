"""Real microscope files: the example and test data shipped in three packages on PyPI.

``make test`` downloads each archive once into ``.cache/wheels`` (``pip download --no-deps``, versions
pinned in the Makefile); the files are extracted from it here. Without an archive (a plain ``pytest``
before any ``make test``) the tests that need it are skipped.

- temul-toolkit 0.1.9 wheel (GPL-3.0): a Velox .emd and a DigitalMicrograph .dm3.
- hyperspy 1.7.6 wheel (GPL-3.0): its ``tests/io`` data: .dm3/.dm4, FEI TIA .ser/.emi, TIFFs written by
  DigitalMicrograph, ImageJ and Olympus SIS, Velox .emd files, and Berkeley (EMD 0.2) .emd files written by
  the Prismatic simulator.
- mrcfile 1.5.4 sdist (BSD-3-Clause): its ``tests/test_data``: .mrc files written by Thermo Fisher EPU.
"""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
WHEELS = REPO / ".cache" / "wheels"
TEMUL_WHEEL = WHEELS / "temul_toolkit-0.1.9-py3-none-any.whl"
EXAMPLES = "temul/example_data/experimental/"
HYPERSPY_WHEEL = WHEELS / "hyperspy-1.7.6-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
HYPERSPY_IO = "hyperspy/tests/io/"
HYPERSPY_FILES = (
    "FEI_old/64x64_TEM_images_acquire.emi", "FEI_old/64x64_TEM_images_acquire_1.ser",
    "FEI_old/64x64x5_TEM_preview.emi", "FEI_old/64x64x5_TEM_preview_1.ser",
    "FEI_new/128x128-TEM_search.emi", "FEI_new/128x128-TEM_search_1.ser",
    "FEI_old/64x64_diffraction_acquire.emi", "FEI_old/64x64_diffraction_acquire_1.ser",
    "FEI_old/16x16-spectrum_image-5x5x1024.emi", "FEI_old/16x16-spectrum_image-5x5x1024_1.ser",
    "dm4_2D_data/test-MonarcCL_mono-image.dm4", "dm4_3D_data/EELS_SI.dm4",
    "dm3_2D_data/multi_signal.dm3", "dm3_2D_data/test_diffraction_pattern.dm3", "dm3_1D_data/test-EELS_spectrum.dm3",
    "tiff_files/test_loading_image_saved_with_DM.tif", "tiff_files/test_loading_image_saved_with_DM_stack.tif",
    "tiff_files/test_loading_image_saved_with_imageJ.tif", "tiff_files/olympus_SIS.tif",
    "emd_files/Si100_2x1x1_3D.emd", "emd_files/Si100_3D.emd",
)
"""Files of hyperspy's tests/io used here, by their path in it (a .ser file with the .emi that describes it)."""
VELOX_ZIP, VELOX_FILES = "emd_files/fei_emd_files.zip", ("fei_emd_si.emd",)
MRCFILE_SDIST = WHEELS / "mrcfile-1.5.4.tar.gz"
MRC_FILES = ("epu2.9_example.mrc", "fei-extended.mrc")


def require(archive: Path, requirement: str) -> None:
    """Skip the test if ``archive`` has not been downloaded yet."""
    if not archive.is_file():
        pytest.skip(f"{archive} missing: run `make test` (it pip-downloads {requirement} once)")


@pytest.fixture(scope="session")
def temul_files(tmp_path_factory) -> dict[str, Path]:
    """The Velox .emd (HAADF of a gold particle) and the DigitalMicrograph .dm3 (MoS2) of temul-toolkit 0.1.9."""
    require(TEMUL_WHEEL, "temul-toolkit==0.1.9")
    folder = tmp_path_factory.mktemp("temul")
    files = {}
    with zipfile.ZipFile(TEMUL_WHEEL) as wheel:
        for kind, name in (("emd", "example_Au_nanoparticle.emd"), ("dm3", "example_Se_implanted_MoS2.dm3")):
            files[kind] = Path(wheel.extract(EXAMPLES + name, folder))
    return files


@pytest.fixture(scope="session")
def hyperspy_io(tmp_path_factory) -> Path:
    """A folder with :data:`HYPERSPY_FILES` and the Velox :data:`VELOX_FILES` at their paths in hyperspy's tests/io."""
    require(HYPERSPY_WHEEL, "hyperspy==1.7.6")
    folder = tmp_path_factory.mktemp("hyperspy")
    with zipfile.ZipFile(HYPERSPY_WHEEL) as wheel:
        for name in HYPERSPY_FILES:
            wheel.extract(HYPERSPY_IO + name, folder)
        with zipfile.ZipFile(io.BytesIO(wheel.read(HYPERSPY_IO + VELOX_ZIP))) as velox:
            for name in VELOX_FILES:
                velox.extract(name, folder / HYPERSPY_IO / Path(VELOX_ZIP).parent)
    return folder / HYPERSPY_IO


@pytest.fixture(scope="session")
def mrc_files(tmp_path_factory) -> dict[str, Path]:
    """The two MRC files written by Thermo Fisher EPU in mrcfile 1.5.4's sdist, by file name."""
    require(MRCFILE_SDIST, "mrcfile==1.5.4 (sdist)")
    folder = tmp_path_factory.mktemp("mrcfile")
    files = {}
    with tarfile.open(MRCFILE_SDIST) as sdist:  # one pass over the gzip stream, not one per member
        for member in sdist:
            name = Path(member.name).name
            if member.isfile() and member.name.endswith(f"/tests/test_data/{name}") and name in MRC_FILES:
                files[name] = folder / name
                files[name].write_bytes(sdist.extractfile(member).read())
    return files
