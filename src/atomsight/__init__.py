"""atomsight: find and classify atoms in HRTEM images with a network trained on simulations."""

__version__ = "0.1.0"
