"""Resolve the configured array device ("auto", "cpu" or "gpu") to the one that runs."""

from __future__ import annotations

import logging

DEVICES: tuple[str, ...] = ("auto", "cpu", "gpu")

log = logging.getLogger(__name__)


def gpu_available() -> bool:
    """Return whether CuPy is installed and sees at least one CUDA device."""
    try:
        import cupy
    except ImportError:
        return False
    try:
        return cupy.cuda.runtime.getDeviceCount() > 0
    except cupy.cuda.runtime.CUDARuntimeError:
        return False


def resolve_device(requested: str) -> str:
    """Return the device that multislice runs on.

    Parameters
    ----------
    requested : {"auto", "cpu", "gpu"}
        The configured device. "auto" picks the GPU when CuPy sees one.

    Returns
    -------
    str
        "cpu" or "gpu".

    Raises
    ------
    ValueError
        If ``requested`` is not a known device.
    RuntimeError
        If "gpu" is requested but CuPy or a CUDA device is missing.
    """
    if requested not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {requested!r}")
    if requested == "cpu":
        return "cpu"
    available = gpu_available()
    if requested == "gpu" and not available:
        raise RuntimeError(
            "device: gpu was requested but no GPU is usable: install CuPy for your CUDA version"
            " (pip install cupy-cuda12x) and check that a CUDA device is visible, or set device: auto"
        )
    device = "gpu" if available else "cpu"
    log.info("device %r resolved to %r", requested, device)
    return device
