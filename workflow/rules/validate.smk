# Validation stamp of the extract (written by `lenstop build` itself before Snakemake starts;
# this rule runs only when Snakemake is started by hand).

rule validate:
    message: "validate {input}"
    input: DATA
    output: f"{WORK}/validated.json"
    shell: "lenstop validate {input:q} --stamp {output:q} " + SHEET_ARG
