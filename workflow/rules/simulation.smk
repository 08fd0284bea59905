rule simulate_exit_waves:
    input:
        structures=f"{RESULTS}/structures/{{system}}/{{split}}.extxyz",
    output:
        store=directory(
            f"{RESULTS}/exitwaves/{{system}}/{{split}}/shard-{{shard}}.zarr"
        ),
    log:
        f"{RESULTS}/logs/simulate_exit_waves/{{system}}/{{split}}/shard-{{shard}}.log",
    conda:
        conda_env("cupy")
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=1 if uses_gpu("cupy") else 0,
    script:
        "../scripts/simulate_exit_waves.py"
