rule generate_structures:
    output:
        f"{RESULTS}/structures/{{system}}/{{split}}.extxyz",
    log:
        f"{RESULTS}/logs/generate_structures/{{system}}/{{split}}.log",
    conda:
        "../../envs/atomsight.yaml"
    threads: config["threads"]
    resources:
        mem_mb=2000,
        runtime=30,
    script:
        "../scripts/generate_structures.py"
