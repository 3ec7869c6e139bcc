"""The spec the tests play with the scripted LM (nanoflux.testing): small, two topics, the default rubric; a
guard that no LM is called; and the CLI, invoked in-process."""

import dspy
import litellm
import pytest
from click.testing import CliRunner, Result

SCRIPTED_SPEC = """
name: jars
description: Counting jars on shelves.
topics: [shelves, crates]
rubric:
  dimensions:
    - {name: correctness, description: right}
    - {name: rigor, description: valid}
    - {name: completeness, description: all steps}
    - {name: clarity, description: clear}
rounds: 6
"""


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
