# One job per analysis notebook (papermill), with the modules it imports as inputs.

def notebook_inputs(wildcards):
    """What a notebook reads besides its extract: the simulation summary (06), the grid
    points (07)."""
    return {"06_simulation": [f"{SIM_DIR}/summary.json"],
            "07_sensitivity": [TARGETS["sensitivity"]] if SENSITIVITY else []
            }.get(wildcards.nb, [])


def notebook_args(wildcards):
    """The grid's points for notebook 07 (or `skip` without the grid)."""
    if wildcards.nb != "07_sensitivity":
        return ""
    return "--sensitivity " + (shlex.quote(TARGETS["sensitivity"]) if SENSITIVITY else "skip")


rule notebook:
    message: "notebook {wildcards.nb}"
    input:
        notebook="notebooks/{nb}.ipynb",
        validated=rules.validate.output,
        # the modules this notebook imports (and theirs), not the whole package: editing the
        # command line or the renderer reruns no notebook (lenstop.workflow.notebooks.code_inputs)
        code=lambda w: [str(p.relative_to(ROOT)) for p in code_inputs(w.nb)],
        defaults="config/config.yaml",
        reads=notebook_inputs,
    output:
        notebook=f"{STAGE}/notebooks/{{nb}}.ipynb",
        products=f"{WORK}/products/{{nb}}.json",
    params: min_cell=MIN_CELL, extra=notebook_args
    threads: 1
    resources: mem_mb=2000, runtime=20
    shell: "lenstop run-notebook {wildcards.nb} --data {DATA:q} --out {OUT:q}"
           " --min-cell {params.min_cell} {params.extra} " + SHEET_ARG
