"""Snakemake script: simulate one shard of exit waves (atomsight.simulation.exitwaves.build_shard)."""

from atomsight.logs import log_to

with log_to(snakemake.log[0]):
    from atomsight.device import resolve_device
    from atomsight.simulation.exitwaves import build_shard

    build_shard(
        snakemake.config["systems"][snakemake.wildcards.system],
        name=snakemake.wildcards.system,
        split=snakemake.wildcards.split,
        shard=int(snakemake.wildcards.shard),
        structures_path=snakemake.input.structures,
        store_path=snakemake.output.store,
        device=resolve_device(snakemake.config["device"]),
        threads=snakemake.threads,
    )
