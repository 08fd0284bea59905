rule simulate_exit_waves:
    input:
        structures=LAYOUT.structures("{system}", "{split}"),
    output:
        store=directory(LAYOUT.exitwaves("{system}", "{split}", "{shard}")),
    log:
        LAYOUT.log("simulate_exit_waves", "{system}", "{split}", "shard-{shard}"),
    conda:
        conda_env("cupy")
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=1 if uses_gpu("cupy") else 0,
    script:
        "../scripts/simulate_exit_waves.py"
