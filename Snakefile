from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/structures.smk"
include: "workflow/rules/simulation.smk"
include: "workflow/rules/preview.smk"
include: "workflow/rules/training.smk"
include: "workflow/rules/analysis.smk"


rule all:
    default_target: True
    input:
        default_targets(),
