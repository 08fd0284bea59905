"""The job file and the command of a multi-worker training (atomsight.network.workers)."""

import json
import sys

import pytest

from atomsight.network.workers import JOB_FILE, main, read_job, worker_command, write_job


def test_a_job_file_holds_what_each_worker_trains_on(tmp_path):
    system = {"training": {"epochs": 2, "strategy": "auto"}}
    path = write_job(system, train_stores=[tmp_path / "a.zarr", tmp_path / "b.zarr"],
                     validation_stores=[tmp_path / "v.zarr"], out=tmp_path / "run", device="cpu")
    assert path == tmp_path / "run" / JOB_FILE and not list((tmp_path / "run").glob(".*tmp-*"))
    assert read_job(path) == {"system": system, "train_stores": [str(tmp_path / "a.zarr"), str(tmp_path / "b.zarr")],
                              "validation_stores": [str(tmp_path / "v.zarr")], "out": str(tmp_path / "run"),
                              "device": "cpu"}


def test_a_job_file_that_is_not_one_is_refused_with_its_name(tmp_path):
    broken, partial = tmp_path / "broken.json", tmp_path / "partial.json"
    broken.write_text("{")
    partial.write_text(json.dumps({"system": {}, "out": "run"}))
    with pytest.raises(ValueError, match=r"broken.json: not a training job file"):
        read_job(broken)
    with pytest.raises(ValueError, match=r"partial.json: no train_stores, validation_stores, device"):
        read_job(partial)


def test_the_launcher_starts_this_python_on_the_job_file():
    assert worker_command("srun --label --kill-on-bad-exit=1", 2, "run/job.json") == [
        "srun", "--label", "--kill-on-bad-exit=1", "-n", "2", sys.executable, "-m", "atomsight.network.workers",
        "run/job.json"]


def test_a_worker_without_its_one_argument_says_how_to_call_it(capsys):
    assert main([]) == 2
    assert "usage: python -m atomsight.network.workers JOB.json" in capsys.readouterr().err
