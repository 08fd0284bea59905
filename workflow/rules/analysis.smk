rule track_sequence:
    input:
        model=lambda wildcards: f"{RESULTS}/models/{config['sequences'][wildcards.sequence]['system']}",
        movie=sequence_movie,
    output:
        tracks=report(
            directory(f"{RESULTS}/tracks/{{sequence}}"),
            patterns=["{plot}.png"],
            caption="../report/tracks.rst",
            category="Sequences",
            subcategory="{sequence}",
        ),
    log:
        f"{RESULTS}/logs/track_sequence/{{sequence}}.log",
    conda:
        conda_env("tensorflow")
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=120,
        gpu=1 if uses_gpu("tensorflow") else 0,
    script:
        "../scripts/track_sequence.py"
