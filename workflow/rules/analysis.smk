rule track_sequence:
    input:
        model=lambda wildcards: LAYOUT.model(
            config["sequences"][wildcards.sequence]["system"]
        ),
        movie=sequence_movie,
    output:
        tracks=report(
            directory(LAYOUT.tracks("{sequence}")),
            patterns=["{plot}.png"],
            caption="../report/tracks.rst",
            category="Sequences",
            subcategory="{sequence}",
        ),
    log:
        LAYOUT.log("track_sequence", "{sequence}"),
    conda:
        conda_env("tensorflow")
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=120,
        gpu=1 if uses_gpu("tensorflow") else 0,
    script:
        "../scripts/track_sequence.py"
