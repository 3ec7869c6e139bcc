"""Runs against a thinking server journal each role's reasoning trace and thinking tokens, clipped, as the spec asks.

Every role talks to a stand-in thinking server (tests/support/faultserver.py) over real HTTP through DSPy: it
returns its trace as `reasoning_content` ("field") or writes it inline as `<think>...</think>` ("inline").
"""

import json
from pathlib import Path

import pytest

from nanoflux import estimate_cost, parse_spec
from nanoflux.engine.journal import read_journal
from nanoflux.jobs.compile import compile_spec
from nanoflux.modules.round import TRACE_CHARS
from tests.support.faultserver import CLIENTS, REASONING_TOKENS, THOUGHT, FaultServer, fault_spec

ROUNDS = 2
SOLVES = 3  # the judge's default


def thinking_run(tmp_path: Path, server: FaultServer, *, client: str = "dspy", extra: str = "") -> list[dict]:
    spec = fault_spec(server, model=CLIENTS[client]).replace("structured_output: true",
                                                             f"structured_output: true{extra}")
    compile_spec(parse_spec(spec), out=tmp_path / "run", rounds=ROUNDS, cache_dir=tmp_path / "cache", progress=False)
    records = read_journal(tmp_path / "run" / "rounds.jsonl")
    assert [record["status"] for record in records] == ["ok"] * ROUNDS, [r.get("error") for r in records]
    return records


def thought(role: str) -> str:
    return THOUGHT.replace("{role}", role)


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_a_thinking_server_s_traces_and_thinking_tokens_are_journaled_per_role(tmp_path: Path, client: str) -> None:
    with FaultServer(thinking="field") as server:
        records = thinking_run(tmp_path, server, client=client)
    for record in records:
        assert record["traces"] == {role: thought(role) for role in ("attacker", "defender", "judge")}
        assert [solve["trace"] for solve in record["solves"]] == [thought("solver")] * SOLVES
        assert "trace" not in record["judge"], "the judge's result holds its outputs only"
        assert {role: usage.get("reasoning_tokens") for role, usage in record["roles"].items()} == {
            "attacker": REASONING_TOKENS, "defender": REASONING_TOKENS, "judge": REASONING_TOKENS,
            "solver": SOLVES * REASONING_TOKENS}


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_inline_think_blocks_are_cut_off_the_answers_and_journaled_without_their_tags(
        tmp_path: Path, client: str) -> None:
    with FaultServer(thinking="inline") as server:
        records = thinking_run(tmp_path, server, client=client)
    journal = (tmp_path / "run" / "rounds.jsonl").read_text()
    assert "<think>" not in journal and "</think>" not in journal
    for record in records:
        assert record["traces"] == {role: thought(role) for role in ("attacker", "defender", "judge")}
        assert record["defender_answer"] and record["judge"]["scores"], "the answers parsed"


def test_roles_that_do_not_keep_reasoning_journal_no_trace_but_count_its_tokens(tmp_path: Path) -> None:
    with FaultServer(thinking="field") as server:
        records = thinking_run(tmp_path, server, extra=", keep_reasoning: false, reasoning_effort: medium")
    assert {body.get("reasoning_effort") for body in server.bodies} == {"medium"}, "the spec's effort is sent"
    for record in records:
        assert "traces" not in record and all("trace" not in solve for solve in record["solves"])
        assert record["roles"]["defender"]["reasoning_tokens"] == REASONING_TOKENS
    assert thought("defender") not in (tmp_path / "run" / "rounds.jsonl").read_text()


def test_a_trace_longer_than_the_cap_is_clipped_with_a_marker_of_what_was_cut(tmp_path: Path) -> None:
    long = "x" * (TRACE_CHARS + 5000)
    with FaultServer(thinking="field", thought=long) as server:
        records = thinking_run(tmp_path, server)
    for record in records:
        for trace in [*record["traces"].values(), *(solve["trace"] for solve in record["solves"])]:
            assert trace.startswith("x" * TRACE_CHARS)
            assert trace.endswith("[... 5,000 more characters of reasoning cut]")
            assert len(trace) < TRACE_CHARS + 100
    # on disk: a round holds 3 roles' and 3 solves' clipped traces, never the server's 21,000 characters each
    lines = (tmp_path / "run" / "rounds.jsonl").read_text().splitlines()
    assert all(len(line) < 6 * (TRACE_CHARS + 100) + 20_000 for line in lines)
    assert all(json.loads(line)["traces"]["defender"].count("x") == TRACE_CHARS for line in lines)


def test_estimate_shows_thinking_tokens_per_round(tmp_path: Path) -> None:
    with FaultServer(thinking="field") as server:
        spec = tmp_path / "spec.yaml"
        spec.write_text(fault_spec(server))
        estimate = estimate_cost(spec)
    per_round = {"attacker": REASONING_TOKENS, "defender": REASONING_TOKENS, "judge": REASONING_TOKENS,
                 "solver": SOLVES * REASONING_TOKENS}
    assert {role: row["reasoning_tokens"] for role, row in estimate.to_dict()["roles"].items()} == per_round
    assert ("Thinking tokens/round, among the output tokens and priced with them: attacker 12, defender 12, "
            "solver 36, judge 12 (total 72).") in estimate.render()
    with FaultServer() as server:
        spec.write_text(fault_spec(server))
        assert "Thinking" not in estimate_cost(spec).render()
