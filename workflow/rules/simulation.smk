# The simulation study: batches of seeds as jobs, then the summary notebook 06 shows.

rule simulate_batch:
    message: "simulate seeds {wildcards.first}-{wildcards.last}"
    input: SIM_CODE
    output: f"{SIM_DIR}/batches/seeds-{{first}}-{{last}}.json"
    threads: 1
    resources: mem_mb=1000, runtime=15
    shell: "lenstop simulate-batch --first {wildcards.first} --last {wildcards.last}"
           " --output {output:q}"


rule simulate_summary:
    message: "simulation summary"
    input: SIM_BATCHES
    output: f"{SIM_DIR}/summary.json", f"{SIM_DIR}/replicates.json"
    resources: mem_mb=2000, runtime=15
    shell: "lenstop simulate-summary {input:q} --out {SIM_DIR:q}"
