"""Real microscope files: the example data shipped in the temul-toolkit wheel.

``make test`` downloads the wheel once into ``.cache/wheels`` (``pip download --no-deps
temul-toolkit==0.1.9``); the files are extracted from it here. Without the wheel (a plain
``pytest`` before any ``make test``) the tests that need them are skipped.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TEMUL_WHEEL = REPO / ".cache" / "wheels" / "temul_toolkit-0.1.9-py3-none-any.whl"
EXAMPLES = "temul/example_data/experimental/"


@pytest.fixture(scope="session")
def temul_files(tmp_path_factory) -> dict[str, Path]:
    """The Velox .emd (HAADF of a gold particle) and the DigitalMicrograph .dm3 (MoS2) of temul-toolkit 0.1.9."""
    if not TEMUL_WHEEL.is_file():
        pytest.skip(f"{TEMUL_WHEEL} missing: run `make test` (it pip-downloads temul-toolkit==0.1.9 once)")
    folder = tmp_path_factory.mktemp("temul")
    files = {}
    with zipfile.ZipFile(TEMUL_WHEEL) as wheel:
        for kind, name in (("emd", "example_Au_nanoparticle.emd"), ("dm3", "example_Se_implanted_MoS2.dm3")):
            files[kind] = Path(wheel.extract(EXAMPLES + name, folder))
    return files
