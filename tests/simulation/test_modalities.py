"""The imaging-mode seam: every mode the configuration accepts has a simulator and an imaging."""

from atomsight.config import modalities
from atomsight.microscope.modalities import IMAGING
from atomsight.simulation.modalities import SIMULATORS


def test_every_configurable_mode_has_a_simulator_and_an_imaging_and_no_other():
    assert set(SIMULATORS) == set(IMAGING) == set(modalities())


def test_hrtem_is_a_mode():
    assert "hrtem" in modalities()
