# From the notebooks' products to the published report: merge -> variables -> stage ->
# render -> publish.

rule merge:
    message: "merge results"
    input: expand(f"{WORK}/products/{{nb}}.json", nb=NOTEBOOKS)
    output: f"{STAGE}/results/results.json"
    params: min_cell=MIN_CELL
    shell: "lenstop merge --out {STAGE:q} --min-cell {params.min_cell} --data {DATA:q}"


rule variables:
    message: "manuscript variables"
    input: rules.merge.output
    output:
        variables=f"{STAGE}/_variables.yml",
        header=f"{STAGE}/{TYPST_HEADER}",
    params: line_numbers=LINE_NUMBERS
    shell: "lenstop variables --out {STAGE:q} --line-numbers {params.line_numbers}"


rule stage:
    message: "stage manuscript sources"
    input: SOURCES
    output: [f"{STAGE}/{s}" for s in SOURCES + QUARTO_FILES]
    params: min_cell=MIN_CELL
    shell: "lenstop stage --out {STAGE:q} --data {DATA:q} --min-cell {params.min_cell} "
           + SHEET_ARG


rule render:
    message: "render manuscript (pandoc + Typst)"
    input:
        variables=rules.variables.output.variables,
        header=rules.variables.output.header,
        notebooks=expand(f"{STAGE}/notebooks/{{nb}}.ipynb", nb=NOTEBOOKS),
        sources=[f"{STAGE}/{s}" for s in SOURCES],
        code=RENDER_CODE,
    output: REPORT
    shell: "lenstop render --project {STAGE:q}"


rule publish:
    message: "publish into {OUT}"
    input: to_publish
    output: f"{WORK}/published-{{until}}.json"
    shell: "lenstop publish --data {DATA:q} --out {OUT:q} --until {wildcards.until}"
           " --stamp {output:q} " + SHEET_ARG
