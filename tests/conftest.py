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
