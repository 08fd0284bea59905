rule train_model:
    input:
        train=lambda wildcards: shard_stores(wildcards.system, "train"),
        validation=lambda wildcards: shard_stores(wildcards.system, "validation"),
    output:
        model=LAYOUT.training("{system}", "model.keras"),
        curves=report(
            LAYOUT.training("{system}", "curves.png"),
            caption="../report/curves.rst",
            category="Training",
        ),
    log:
        LAYOUT.log("train_model", "{system}"),
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
        model=LAYOUT.training("{system}", "model.keras"),
        test=lambda wildcards: shard_stores(wildcards.system, "test"),
        structures=LAYOUT.structures("{system}", "test"),
        # a counting model's classical counter is fitted on the train split; nothing else is read from it
        train=lambda wildcards: (
            shard_stores(wildcards.system, "train")
            if config["systems"][wildcards.system]["labels"]["classes"] == "heights"
            else []
        ),
    output:
        metrics=LAYOUT.evaluation("{system}", "metrics.json"),
        f1=report(
            LAYOUT.evaluation("{system}", "f1_vs_dose.png"),
            caption="../report/evaluation.rst",
            category="Evaluation",
        ),
        overlays=report(
            LAYOUT.evaluation("{system}", "overlays.png"),
            caption="../report/overlays.rst",
            category="Evaluation",
        ),
    log:
        LAYOUT.log("evaluate_model", "{system}"),
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
        model=LAYOUT.training("{system}", "model.keras"),
        test=lambda wildcards: shard_stores(wildcards.system, "test"),
        train=lambda wildcards: shard_stores(wildcards.system, "train"),
    output:
        table=LAYOUT.grid("{system}", "grid.csv"),
        summary=LAYOUT.grid("{system}", "grid.json"),
        f1=report(
            LAYOUT.grid("{system}", "grid_f1.png"),
            caption="../report/grid.rst",
            category="Evaluation",
        ),
        rmse=report(
            LAYOUT.grid("{system}", "grid_rmse.png"),
            caption="../report/grid.rst",
            category="Evaluation",
        ),
        contrast=report(
            LAYOUT.grid("{system}", "grid_contrast.png"),
            caption="../report/grid.rst",
            category="Evaluation",
        ),
        dose=report(
            LAYOUT.grid("{system}", "grid_dose.png"),
            caption="../report/grid.rst",
            category="Evaluation",
        ),
    log:
        LAYOUT.log("evaluate_grid", "{system}"),
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
        model=LAYOUT.training("{system}", "model.keras"),
        metrics=LAYOUT.evaluation("{system}", "metrics.json"),
    output:
        directory(LAYOUT.model("{system}")),
    log:
        LAYOUT.log("export_model", "{system}"),
    conda:
        "../../envs/atomsight.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
    script:
        "../scripts/export_model.py"
