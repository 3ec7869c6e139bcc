"""What a command does, a module a job: compile, estimate, curate, optimize, finetune, eval, ablate,
judge-eval, review, stats and the report. A job may use the engine and all below it; nothing below imports a job."""
