rule train_model:
    input:
        train=lambda wildcards: shard_stores(wildcards.system, "train"),
        validation=lambda wildcards: shard_stores(wildcards.system, "validation"),
    output:
        model=f"{RESULTS}/training/{{system}}/model.keras",
        curves=report(
            f"{RESULTS}/training/{{system}}/curves.png",
            caption="../report/curves.rst",
            category="Training",
        ),
    log:
        f"{RESULTS}/logs/train_model/{{system}}.log",
    conda:
        conda_env("tensorflow")
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=24 * 60,
        gpu=1 if uses_gpu("tensorflow") else 0,
    script:
        "../scripts/train_model.py"


rule evaluate_model:
    input:
        model=f"{RESULTS}/training/{{system}}/model.keras",
        test=lambda wildcards: shard_stores(wildcards.system, "test"),
        structures=f"{RESULTS}/structures/{{system}}/test.extxyz",
    output:
        metrics=f"{RESULTS}/eval/{{system}}/metrics.json",
        f1=report(
            f"{RESULTS}/eval/{{system}}/f1_vs_dose.png",
            caption="../report/evaluation.rst",
            category="Evaluation",
        ),
        overlays=report(
            f"{RESULTS}/eval/{{system}}/overlays.png",
            caption="../report/overlays.rst",
            category="Evaluation",
        ),
    log:
        f"{RESULTS}/logs/evaluate_model/{{system}}.log",
    conda:
        conda_env("tensorflow")
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=60,
        gpu=1 if uses_gpu("tensorflow") else 0,
    script:
        "../scripts/evaluate_model.py"


rule evaluate_grid:
    input:
        model=f"{RESULTS}/training/{{system}}/model.keras",
        test=lambda wildcards: shard_stores(wildcards.system, "test"),
        train=lambda wildcards: shard_stores(wildcards.system, "train"),
    output:
        table=f"{RESULTS}/eval/{{system}}/grid/grid.csv",
        summary=f"{RESULTS}/eval/{{system}}/grid/grid.json",
        f1=report(
            f"{RESULTS}/eval/{{system}}/grid/grid_f1.png",
            caption="../report/grid.rst",
            category="Evaluation",
        ),
        rmse=report(
            f"{RESULTS}/eval/{{system}}/grid/grid_rmse.png",
            caption="../report/grid.rst",
            category="Evaluation",
        ),
        contrast=report(
            f"{RESULTS}/eval/{{system}}/grid/grid_contrast.png",
            caption="../report/grid.rst",
            category="Evaluation",
        ),
        dose=report(
            f"{RESULTS}/eval/{{system}}/grid/grid_dose.png",
            caption="../report/grid.rst",
            category="Evaluation",
        ),
    log:
        f"{RESULTS}/logs/evaluate_grid/{{system}}.log",
    conda:
        conda_env("tensorflow")
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=4 * 60,
        gpu=1 if uses_gpu("tensorflow") else 0,
    script:
        "../scripts/evaluate_grid.py"


rule export_model:
    input:
        model=f"{RESULTS}/training/{{system}}/model.keras",
        metrics=f"{RESULTS}/eval/{{system}}/metrics.json",
    output:
        directory(f"{RESULTS}/models/{{system}}"),
    log:
        f"{RESULTS}/logs/export_model/{{system}}.log",
    conda:
        "../../envs/atomsight.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
    script:
        "../scripts/export_model.py"
