rule preview_training_images:
    input:
        stores=lambda wildcards: shard_stores(wildcards.system, "train"),
    output:
        report(
            LAYOUT.preview("{system}"),
            caption="../report/preview.rst",
            category="Training data",
        ),
    log:
        LAYOUT.log("preview_training_images", "{system}"),
    conda:
        "../../envs/atomsight.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=10,
    script:
        "../scripts/preview_training_images.py"
