# The sensitivity grid: one job per point of config/sensitivity.yaml, then the gather that
# notebook 07 reads.

rule sensitivity_point:
    message: "sensitivity point {wildcards.point}"
    input:
        grid=GRID,
        validated=rules.validate.output,
        code=GRID_CODE,
        defaults="config/config.yaml",
    output: f"{WORK}/sensitivity/points/{{point}}.json"
    threads: 1
    resources: mem_mb=1000, runtime=10
    # a fit takes a fraction of a second: run in Snakemake's own process (--force-use-threads,
    # lenstop.workflow.runner), not a new interpreter that imports the scientific stack per
    # point; on a cluster each point is still its own job
    run:
        from lenstop.analyses.sensitivity import run_job

        run_job(wildcards.point, DATA, OUT, input.grid, output[0], MIN_CELL, SHEET or None)


rule sensitivity:
    message: "gather the sensitivity grid"
    input:
        grid=GRID,
        points=expand(f"{WORK}/sensitivity/points/{{point}}.json", point=POINTS),
    output: TARGETS["sensitivity"]
    shell: "lenstop sensitivity-gather {input.points:q} --grid {input.grid:q}"
           " --output {output:q}"
