"""Resolve the configured device ("auto", "cpu" or "gpu") to the one that runs, per library.

Multislice runs on CuPy (abTEM's GPU backend), training and evaluation on TensorFlow; each
library is asked separately whether it sees a CUDA device, and the pick is logged.
"""

from __future__ import annotations

import functools
import logging

DEVICES: tuple[str, ...] = ("auto", "cpu", "gpu")
LIBRARIES: tuple[str, ...] = ("cupy", "tensorflow")

log = logging.getLogger(__name__)

_INSTALL_HINT = {
    "cupy": "install CuPy for your CUDA version (pip install cupy-cuda12x, or envs/atomsight-gpu.yaml)",
    "tensorflow": "install TensorFlow with CUDA (pip install 'tensorflow[and-cuda]', or envs/atomsight-gpu.yaml)",
}


def gpu_names(library: str = "cupy") -> list[str]:
    """Return the CUDA devices that ``library`` sees (empty when it is missing or sees none).

    Parameters
    ----------
    library : {"cupy", "tensorflow"}
        The array library that would run on the GPU.

    Returns
    -------
    list of str
        One name per device, e.g. ``["NVIDIA H100 80GB HBM3"]`` (CuPy) or
        ``["/physical_device:GPU:0"]`` (TensorFlow).
    """
    if library not in LIBRARIES:
        raise ValueError(f"library must be one of {LIBRARIES}, got {library!r}")
    return list(_cupy_gpus() if library == "cupy" else _tensorflow_gpus())


@functools.cache
def _cupy_gpus() -> tuple[str, ...]:
    try:
        import cupy
    except ImportError:
        return ()
    try:
        count = cupy.cuda.runtime.getDeviceCount()
        return tuple(cupy.cuda.runtime.getDeviceProperties(i)["name"].decode() for i in range(count))
    except cupy.cuda.runtime.CUDARuntimeError:
        return ()


@functools.cache
def _tensorflow_gpus() -> tuple[str, ...]:
    try:
        import tensorflow as tf
    except ImportError:
        return ()
    return tuple(device.name for device in tf.config.list_physical_devices("GPU"))


def gpu_available(library: str = "cupy") -> bool:
    """Return whether ``library`` ("cupy" or "tensorflow") is installed and sees a CUDA device."""
    return bool(gpu_names(library))


def resolve_device(requested: str, library: str = "cupy") -> str:
    """Return the device that ``library`` runs on, and log the pick.

    Parameters
    ----------
    requested : {"auto", "cpu", "gpu"}
        The configured device. "auto" picks the GPU when ``library`` sees one.
    library : {"cupy", "tensorflow"}
        "cupy" for multislice (abTEM), "tensorflow" for training and evaluation.

    Returns
    -------
    str
        "cpu" or "gpu".

    Raises
    ------
    ValueError
        If ``requested`` or ``library`` is unknown.
    RuntimeError
        If "gpu" is requested but ``library`` or a CUDA device is missing.
    """
    if requested not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {requested!r}")
    names = [] if requested == "cpu" else gpu_names(library)
    if requested == "gpu" and not names:
        raise RuntimeError(
            f"device: gpu was requested but {library} sees no GPU: {_INSTALL_HINT[library]} and check that a"
            " CUDA device is visible (nvidia-smi, CUDA_VISIBLE_DEVICES), or set device: auto"
        )
    device = "gpu" if names else "cpu"
    where = f"GPU ({', '.join(names)})" if names else "CPU"
    log.info("device %r resolved to %r: %s runs on the %s", requested, device, library, where)
    return device


def select_tensorflow_device(requested: str) -> str:
    """Resolve ``requested`` for TensorFlow and hide its GPUs when the CPU was picked.

    Call it before TensorFlow runs anything: a "cpu" pick on a machine with GPUs makes
    them invisible to TensorFlow, so the model really runs where the log says.

    Parameters
    ----------
    requested : {"auto", "cpu", "gpu"}
        The configured device.

    Returns
    -------
    str
        "cpu" or "gpu", as :func:`resolve_device` with ``library="tensorflow"``.
    """
    device = resolve_device(requested, "tensorflow")
    if requested == "cpu" and gpu_available("tensorflow"):
        import tensorflow as tf

        tf.config.set_visible_devices([], "GPU")
    return device
