"""The spec the tests play with the scripted LM (`nanoflux.testing.SCRIPTED_SPEC`, shared with the benchmarks); a
guard that no LM is called; and the CLI, invoked in-process."""

import dspy
import litellm
import pytest
from click.testing import CliRunner, Result

from nanoflux.testing import SCRIPTED_SPEC

__all__ = ["SCRIPTED_SPEC", "forbid_lm", "invoke"]


def forbid_lm(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any LM call, through DSPy or litellm, fails the test from here on (work that must need no LM)."""

    def forbidden(*args, **kwargs):
        raise AssertionError("an LM was called")

    monkeypatch.setattr(dspy.BaseLM, "__call__", forbidden)
    monkeypatch.setattr(dspy.BaseLM, "forward", forbidden)
    monkeypatch.setattr(litellm, "completion", forbidden)


def invoke(*args: str) -> Result:
    """`nanoflux ARGS...` run in this process, its output and exit code captured."""
    from nanoflux.cli import main

    return CliRunner().invoke(main, list(args))
