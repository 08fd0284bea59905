rule generate_structures:
    output:
        LAYOUT.structures("{system}", "{split}"),
    log:
        LAYOUT.log("generate_structures", "{system}", "{split}"),
    conda:
        "../../envs/atomsight.yaml"
    threads: config["threads"]
    resources:
        mem_mb=2000,
        runtime=30,
    script:
        "../scripts/generate_structures.py"
