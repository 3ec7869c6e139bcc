"""The LMs the roles call (litellm strings, the embedded llama.cpp model, Hugging Face models), their rate
limits, prices and token usage. Nothing here imports the engine or a job.

litellm loads its price map when it is first imported: from the network unless
LITELLM_LOCAL_MODEL_COST_MAP is true, and with no network it retried for about 10 s before a run's first
round. Every way NanoFlux reaches litellm (pricing, the role LMs, DSPy calling litellm for them) passes
through this package first, so this is the one place NanoFlux asks for the bundled map, whatever the
entry point (the CLI, `compile_spec`, a test harness). The one process-wide setting the library makes,
and only a default: a value the caller set (false: fetch the current map) is kept, and litellm imported
before NanoFlux has already loaded its map as the caller's environment said.
"""

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
