import pytest

from atomsight import device


def test_cpu_is_always_cpu():
    assert device.resolve_device("cpu") == "cpu"


def test_auto_follows_gpu_availability(monkeypatch):
    monkeypatch.setattr(device, "gpu_available", lambda: False)
    assert device.resolve_device("auto") == "cpu"
    monkeypatch.setattr(device, "gpu_available", lambda: True)
    assert device.resolve_device("auto") == "gpu"


def test_gpu_without_gpu_says_what_to_do(monkeypatch):
    monkeypatch.setattr(device, "gpu_available", lambda: False)
    with pytest.raises(RuntimeError, match="cupy"):
        device.resolve_device("gpu")


def test_unknown_device_is_named():
    with pytest.raises(ValueError, match="'tpu'"):
        device.resolve_device("tpu")
