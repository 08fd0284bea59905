"""The conda environments of the workflow pin exactly what pyproject.toml pins."""

import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def pins(requirements):
    return {line.split("==")[0]: line.split("==")[1] for line in requirements}


def env_pins(name):
    env = yaml.safe_load((REPO / "envs" / name).read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    return pins(pip)


def test_cpu_environment_matches_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert env_pins("atomsight.yaml") == pins(project["dependencies"] + project["optional-dependencies"]["ml"])


def test_gpu_environment_differs_only_by_cuda_builds():
    cpu, gpu = env_pins("atomsight.yaml"), env_pins("atomsight-gpu.yaml")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    cupy = pins(project["optional-dependencies"]["gpu"])
    assert gpu.pop("tensorflow[and-cuda]") == cpu.pop("tensorflow-cpu")
    assert gpu == {**cpu, **cupy}


def test_pip_constraints_agree_with_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    direct = pins(project["dependencies"] + project["optional-dependencies"]["ml"])
    lines = [line for line in (REPO / "envs" / "pip-constraints.txt").read_text().splitlines() if "==" in line]
    locked = {k.lower().replace("_", "-"): v for k, v in pins(lines).items()}
    for name, version in direct.items():
        assert locked[name.lower()] == version, name
