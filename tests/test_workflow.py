"""End to end: the Snakemake workflow on the tiny configuration, in a temporary folder."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from atomsight.device import gpu_available
from atomsight.io.store import open_shard, shard_attrs

REPO = Path(__file__).resolve().parents[1]
SNAKEFMT = Path(sys.executable).with_name("snakefmt")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def workdir(tiny_workflow):
    return tiny_workflow


def test_every_shard_store_is_made(workdir):
    stores = sorted(p.relative_to(workdir).as_posix() for p in (workdir / "results" / "exitwaves").glob("*/*/*.zarr"))
    assert stores == [
        "results/exitwaves/gold/test/shard-000.zarr",
        "results/exitwaves/gold/train/shard-000.zarr",
        "results/exitwaves/gold/validation/shard-000.zarr",
        "results/exitwaves/graphene/test/shard-000.zarr",
        "results/exitwaves/graphene/train/shard-000.zarr",
        "results/exitwaves/graphene/train/shard-001.zarr",
        "results/exitwaves/graphene/validation/shard-000.zarr",
    ]
    assert (workdir / "results" / "structures" / "graphene" / "train.extxyz").exists()
    assert (workdir / "results" / "preview" / "gold.png").stat().st_size > 10_000


def test_the_default_target_ends_in_exported_models(workdir):
    for system in ("graphene", "gold"):
        model = workdir / "results" / "models" / system
        assert (model / "model.json").exists() and (model / "model.keras").exists()
        assert (model / "saved_model" / "saved_model.pb").exists()
        assert (workdir / "results" / "eval" / system / "metrics.json").exists()
        assert (workdir / "results" / "training" / system / "curves.png").exists()
    assert not list(workdir.glob("results/models/.*"))  # no half-written model folder
    assert not list(workdir.glob("results/**/.*tmp*"))


def test_store_contents_follow_the_configuration(workdir):
    root = open_shard(workdir / "results/exitwaves/graphene/train/shard-001.zarr")
    attrs = shard_attrs(root)
    assert root["index"][:].tolist() == [2]
    assert root["array0"].shape == (1, 120, 120)
    assert attrs["class_names"] == ["atom"] and attrs["energy"] == 80e3
    assert root["labels"][:].max() == pytest.approx(1.0, abs=0.02)


def test_logs_are_written(workdir):
    log = (workdir / "results/logs/simulate_exit_waves/gold/train/shard-000.log").read_text()
    assert "simulating 2 structures on cpu" in log


def test_nothing_is_left_to_do_and_a_lost_shard_comes_back_identical(workdir, snakemake):
    assert "Nothing to be done" in snakemake(workdir, "-n").stdout
    store = workdir / "results/exitwaves/graphene/train/shard-000.zarr"
    before = open_shard(store)["array0"][:]
    shutil.rmtree(store)
    result = snakemake(workdir, "results/exitwaves/graphene/train/shard-000.zarr")
    assert result.returncode == 0, result.stdout[-3000:]
    job_stats = result.stdout.split("Job stats")[1].split("Select jobs")[0]
    assert "simulate_exit_waves" in job_stats and "generate_structures" not in job_stats
    np.testing.assert_array_equal(open_shard(store)["array0"][:], before)


def test_invalid_configuration_stops_with_the_key_named(tmp_path, snakemake):
    config = (REPO / "tests" / "data" / "tiny.yaml").read_text().replace("storage_sampling: 0.12",
                                                                        "storage_sampling: -1")
    (tmp_path / "config.yaml").write_text(config)
    result = snakemake(tmp_path, "-n")
    assert result.returncode != 0
    message = "config: systems.gold.simulation.storage_sampling: -1 is less than or equal to the minimum of 0"
    assert message in result.stdout


def test_lint_and_format_are_clean():
    lint = subprocess.run([sys.executable, "-m", "snakemake", "--lint"], cwd=REPO, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = subprocess.run([str(SNAKEFMT), "--check", "Snakefile", "workflow/rules"], cwd=REPO,
                         capture_output=True, text=True)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_the_report_holds_the_plots_with_their_captions(workdir, snakemake):
    result = snakemake(workdir, "--report", "results/report.html")
    assert result.returncode == 0, result.stdout[-3000:]
    page = (workdir / "results" / "report.html").read_text()
    for system in ("graphene", "gold"):
        for caption in ("Training curves of", "Detection of atoms or columns in held-out simulated images of",
                        "Held-out test images of", "Training images of system"):
            assert f"{caption} <strong>{system}</strong>" in page
        for plot in (f"training/{system}/curves.png", f"eval/{system}/f1_vs_dose.png",
                     f"eval/{system}/overlays.png", f"preview/{system}.png"):
            assert f'"results/{plot}": {{"name"' in page  # embedded, not only linked
    for category in ('"Training data"', '"Training"', '"Evaluation"'):
        assert category in page


def test_training_never_reads_the_test_split_and_evaluation_reads_only_it(tmp_path, snakemake):
    (tmp_path / "config.yaml").write_text((REPO / "tests" / "data" / "tiny.yaml").read_text())
    result = snakemake(tmp_path, "--dry-run", "results/eval/graphene/metrics.json")
    assert result.returncode == 0, result.stdout[-3000:]
    inputs = dict(re.findall(r"^rule (\w+):\n    input: ([^\n]*)", result.stdout, flags=re.M))
    splits = {rule: set(re.findall(r"exitwaves/graphene/(\w+)/shard", inputs[rule]))
              for rule in ("train_model", "evaluate_model")}
    assert splits == {"train_model": {"train", "validation"}, "evaluate_model": {"test"}}
    # a counting system's evaluation also fits the classical counter on the train split
    result = snakemake(tmp_path, "--dry-run", "results/eval/gold/metrics.json")
    inputs = dict(re.findall(r"^rule (\w+):\n    input: ([^\n]*)", result.stdout, flags=re.M))
    assert set(re.findall(r"exitwaves/gold/(\w+)/shard", inputs["evaluate_model"])) == {"test", "train"}


@pytest.mark.parametrize("device", ["cpu", "gpu", "auto"])
def test_only_jobs_whose_device_is_a_gpu_ask_for_one(tmp_path, snakemake, device):
    config = (REPO / "tests" / "data" / "tiny.yaml").read_text().replace("device: cpu", f"device: {device}")
    (tmp_path / "config.yaml").write_text(config)
    result = snakemake(tmp_path, "--dry-run", "results/models/graphene")
    assert result.returncode == 0, result.stdout[-3000:]
    libraries = {"simulate_exit_waves": "cupy", "train_model": "tensorflow", "evaluate_model": "tensorflow"}
    jobs = re.findall(r"^rule (\w+):\n.*?^    resources: ([^\n]*)", result.stdout, flags=re.M | re.S)
    assert {rule for rule, _ in jobs} == {*libraries, "generate_structures", "export_model"}
    for rule, resources in jobs:
        asked = int(re.search(r"\bgpu=(\d+)", resources).group(1)) if "gpu=" in resources else 0
        on_gpu = rule in libraries and (device == "gpu" or (device == "auto" and gpu_available(libraries[rule])))
        assert asked == int(on_gpu), (device, rule, resources)


def test_a_configured_sequence_is_tracked_with_its_systems_model_and_its_frames_in_order(tmp_path, snakemake):
    config = (REPO / "tests" / "data" / "tiny.yaml").read_text()
    (tmp_path / "config.yaml").write_text(config + "\nsequences:\n  run42:\n    system: gold\n"
                                          "    movie: [frames/*.emd]\n    sampling: 0.12\n")
    (tmp_path / "frames").mkdir()
    for k in (10, 2, 1):  # written out of order: the rule reads them sorted by name
        (tmp_path / "frames" / f"frame_{k:04d}.emd").touch()
    result = snakemake(tmp_path, "--dry-run")  # the default target: the sequence's system is a target
    assert result.returncode == 0, result.stdout[-3000:]
    jobs = {rule: (inputs, output) for rule, inputs, output
            in re.findall(r"^rule (\w+):\n    input: ([^\n]*)\n    output: ([^\n]*)", result.stdout, flags=re.M)}
    inputs, output = jobs["track_sequence"]
    assert inputs == ("results/models/gold, frames/frame_0001.emd, frames/frame_0002.emd,"
                      " frames/frame_0010.emd")
    assert output == "results/tracks/run42"
