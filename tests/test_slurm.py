"""The workflow on a real one-node Slurm cluster, submitted through workflow/profiles/slurm.

tests/slurm/start-slurm.sh installs (where missing) and starts slurmctld and slurmd on this
machine; the tests are skipped, with the script's reason, only where that fails (no root,
no apt-get). The profile is the repository's, with the test cluster's partition names
and no account, and a 2 s first status poll instead of 20 s.
"""

import json
import re
import subprocess
from pathlib import Path

import keras
import numpy as np
import pytest

from atomsight.io.store import open_shard
from atomsight.network.model import load_model

REPO = Path(__file__).resolve().parents[1]
START_SLURM = REPO / "tests" / "slurm" / "start-slurm.sh"
TARGET = "results/models/graphene"
SUBMITTED = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (\S+)\)\.")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def slurm_cluster():
    result = subprocess.run(["bash", str(START_SLURM)], capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        pytest.skip(f"no Slurm cluster could be started here: {result.stderr.strip()[-1000:]}")


@pytest.fixture(scope="module")
def profile(tmp_path_factory) -> Path:
    text = (REPO / "workflow" / "profiles" / "slurm" / "config.yaml").read_text()
    replacements = [
        (r'&cpu_partition "[^"]*"', '&cpu_partition "atomsight-cpu"'),
        (r'&gpu_partition "[^"]*"', '&gpu_partition "atomsight-gpu"'),
        (r"\n *slurm_account:[^\n]*", ""),
        (r"slurm-init-seconds-before-status-checks: \d+", "slurm-init-seconds-before-status-checks: 2"),
    ]
    for pattern, replacement in replacements:
        text, count = re.subn(pattern, replacement, text)
        assert count == 1, f"the slurm profile has no single {pattern!r} to override for the test"
    folder = tmp_path_factory.mktemp("profile")
    (folder / "config.yaml").write_text(text)
    return folder


@pytest.fixture(scope="module")
def slurm_run(slurm_cluster, profile, tmp_path_factory, snakemake):
    """A folder in which the tiny graphene workflow ran through Slurm, and Snakemake's output."""
    folder = tmp_path_factory.mktemp("slurm")
    (folder / "config.yaml").write_text((REPO / "tests" / "data" / "tiny.yaml").read_text())
    result = snakemake(folder, "--workflow-profile", str(profile), TARGET, timeout=1200)
    assert result.returncode == 0, result.stdout[-5000:]
    return folder, result.stdout


def slurm_job(job_id: str) -> dict[str, str]:
    """Fields of ``scontrol show job`` (kept by slurmctld for MinJobAge = 600 s)."""
    line = subprocess.run(["scontrol", "--oneliner", "show", "job", job_id], capture_output=True, text=True,
                          check=True).stdout
    return dict(field.split("=", 1) for field in line.split() if "=" in field)


def job_stats(output: str) -> dict[str, int]:
    """Job counts per rule from the "Job stats" table Snakemake prints before running."""
    table = output.split("Job stats:")[1].split("\n\n")[0]
    return {fields[0]: int(fields[1]) for fields in map(str.split, table.splitlines()[3:]) if len(fields) == 2}


def test_every_job_went_through_sbatch_to_its_partition(slurm_run):
    _, output = slurm_run
    submissions = SUBMITTED.findall(output)
    stats = job_stats(output)
    # structures of 3 splits, exit waves of 4 shards (train 2, validation 1, test 1), train, evaluate, export
    assert len(submissions) == stats["total"] == 10
    gpu_rules = {"simulate_exit_waves", "train_model", "evaluate_model"}
    for _, slurm_id, _ in submissions:
        job = slurm_job(slurm_id)
        rule = re.match(r"rule_(\w+?)_wildcards", job["Comment"]).group(1)
        assert job["JobState"] == "COMPLETED", job
        assert job["Partition"] == ("atomsight-gpu" if rule in gpu_rules else "atomsight-cpu"), (rule, job)


def test_outputs_equal_those_of_a_local_run(slurm_run, tiny_workflow):
    folder, _ = slurm_run
    structures = "results/structures/graphene/train.extxyz"
    assert (folder / structures).read_text() == (tiny_workflow / structures).read_text()
    for store in sorted((tiny_workflow / "results/exitwaves/graphene").glob("*/*.zarr")):
        local, cluster = open_shard(store), open_shard(folder / store.relative_to(tiny_workflow))
        for name in ("array0", "labels", "positions"):
            np.testing.assert_array_equal(cluster[name][:], local[name][:], err_msg=f"{store.name}/{name}")
    model = "results/training/graphene/model.keras"
    for cluster, local in zip(load_model(folder / model).weights, load_model(tiny_workflow / model).weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(cluster), keras.ops.convert_to_numpy(local))
    metrics = "results/eval/graphene/metrics.json"
    assert (folder / metrics).read_text() == (tiny_workflow / metrics).read_text()


FLAKY_RULE = '''
include: "{snakefile}"


rule checksum_shard:
    input:
        "results/exitwaves/graphene/train/shard-{{shard}}.zarr",
    output:
        "results/checksums/graphene/train/shard-{{shard}}.txt",
    shell:
        # Injected failure: fail while failures-<shard> holds a positive count, counting down.
        """
        n=$(cat failures-{{wildcards.shard}} 2>/dev/null || echo 0)
        if [ "$n" -gt 0 ]; then
            echo $((n - 1)) > failures-{{wildcards.shard}}
            echo "injected failure of shard {{wildcards.shard}}" >&2
            exit 1
        fi
        find {{input}} -type f | sort | xargs cat | sha256sum > {{output}}
        """
'''


def test_a_failed_job_is_reported_retried_and_resumed_without_redoing_finished_work(slurm_run, profile, snakemake):
    folder, _ = slurm_run
    snakefile = folder / "Snakefile.flaky"
    snakefile.write_text(FLAKY_RULE.format(snakefile=REPO / "Snakefile"))
    targets = [f"results/checksums/graphene/train/shard-{k:03d}.txt" for k in range(2)]
    shards = sorted((folder / "results/exitwaves/graphene/train").glob("*.zarr"))
    before = {path: path.stat().st_mtime_ns for path in shards}
    (folder / "failures-001").write_text("2")

    failed_run = snakemake(folder, "--workflow-profile", str(profile), "--retries", "1", *targets,
                           snakefile=snakefile, timeout=600)
    assert failed_run.returncode != 0
    flaky = [submission for submission in SUBMITTED.findall(failed_run.stdout) if "checksum_shard/" in submission[2]]
    assert len(flaky) == 3  # shard 000 once; shard 001 once and once more as the retry
    assert (folder / targets[0]).exists() and not (folder / targets[1]).exists()
    failed = [(slurm_id, log) for _, slurm_id, log in flaky if "/001/" in log]
    assert len(failed) == 2
    for slurm_id, log in failed:  # each failure reported with its Slurm log, which tells why
        report = re.search(rf"Error in rule checksum_shard:\n    message: SLURM-job '{slurm_id}' failed.*?\n"
                           rf"    log: (\S+) \(check log file", failed_run.stdout, flags=re.S)
        assert report and report.group(1) == log, failed_run.stdout[-5000:]
        assert "injected failure of shard 001" in Path(log).read_text()

    finished = (folder / targets[0]).stat().st_mtime_ns
    resumed = snakemake(folder, "--workflow-profile", str(profile), "--rerun-incomplete", *targets,
                        snakefile=snakefile, timeout=600)
    assert resumed.returncode == 0, resumed.stdout[-5000:]
    assert job_stats(resumed.stdout) == {"checksum_shard": 1, "total": 1}
    assert (folder / targets[0]).stat().st_mtime_ns == finished
    assert {path: path.stat().st_mtime_ns for path in shards} == before


def test_the_training_runs_as_two_workers_of_one_slurm_job_step(slurm_run, profile, snakemake, tmp_path):
    """The profile's multi-node lines (README, "Training on several nodes") uncommented, on the one-node test
    cluster: two tasks of one CPU each on its node, no GPUs (nodes and gres left commented)."""
    folder, _ = slurm_run
    text = (profile / "config.yaml").read_text()
    for line in ("tasks: 2", 'mpi: "srun"', "gpu: 0", "tasks_per_gpu: 0", "cpus_per_task: 32"):
        text, count = re.subn(rf"\n(\s*)# {re.escape(line)}", rf"\n\g<1>{line}", text)
        assert count == 1, f"the slurm profile has no single commented {line!r} for training on several nodes"
    multi_node = tmp_path / "multi-node"
    multi_node.mkdir()
    (multi_node / "config.yaml").write_text(text.replace("cpus_per_task: 32", "cpus_per_task: 1"))
    target = "results/training/graphene/model.keras"
    result = snakemake(folder, target, "--workflow-profile", str(multi_node), "--forcerun", "train_model",
                       timeout=900)
    assert result.returncode == 0, result.stdout[-5000:]
    ((_, slurm_id, _),) = SUBMITTED.findall(result.stdout)
    job = slurm_job(slurm_id)
    assert job["NumTasks"] == "2" and job["Partition"] == "atomsight-gpu", job
    log = (folder / "results/logs/train_model/graphene.log").read_text()
    for worker in (0, 1):
        assert f"strategy multi_worker: 2 replica(s) on /job:worker/replica:0/task:{worker}/device:CPU:0, worker " \
               f"{worker} of 2" in log, log[-3000:]
    run = folder / "results/training/graphene"
    assert json.loads((run / "run.json").read_text())["replicas"] == 2
    assert len((run / "history.csv").read_text().splitlines()) == 1 + 2  # tiny.yaml's 2 epochs
    assert not (run / "workers-job.json").exists() and not (run / "backup").exists()
    load_model(folder / target)
