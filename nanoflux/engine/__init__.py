"""How rounds run and become data: the compiler, the runner and its executors, the journal, the budget,
curation and export. It imports the domain packages and base, never a job."""
