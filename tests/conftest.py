"""Test-wide settings: nothing may reach a hub, a telemetry server or the user's caches, and no test
sees what another left in DSPy's process-wide state."""

import copy
import os
from collections.abc import Iterator

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
if workers := int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0")):
    # One of pytest-xdist's workers (`make test`): its share of the cores for torch's and BLAS's thread pools, set
    # before torch is imported. Each pool takes every core by default, and spinning against the other workers' it
    # made a LoRA test 5 times slower on 2 cores with 2 workers (18 s alone, 102 s).
    share = str(max(1, (os.cpu_count() or 1) // workers))
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(variable, share)

import dspy
import pytest
from dspy.dsp.utils.settings import DEFAULT_CONFIG

from nanoflux.clients.lm import configure_cache, restored_cache


@pytest.fixture(autouse=True)
def dspy_state() -> Iterator[None]:
    """Each test gets an empty in-memory LM cache (never the user's disk cache) and leaves DSPy's
    settings at their defaults, as DSPy's own conftest does."""
    with restored_cache():
        configure_cache(None)
        yield
    dspy.configure(**copy.deepcopy(DEFAULT_CONFIG))
