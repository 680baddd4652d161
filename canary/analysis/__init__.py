"""The analysis engine: AnalysisRuns measured by providers and judged into a verdict.

    args.py        template arguments: build_run_spec (Rollout step -> run spec), {{args.x}}, secrets, masking
    conditions.py  CEL success/failure conditions -> the phase of one measurement
    job_secrets.py secret args in a job metric given by Secret reference, never written into the Job
    run.py         the pure executor: step(run, now, outcomes) -> next run, due measurements, requeue time
    runner.py      the shell: advance(run, now=, providers=, read_secret=) takes what is due, records it
    providers/     one module per provider kind behind providers/base.Provider; registry.default_registry
    judges/        statistical comparison of canary against stable (used by providers/judge.py)
    lint.py        lint rules that need the engine itself (judge configs checked by their judge)
"""
