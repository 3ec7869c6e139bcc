"""A run's budget: it stops before the next round would pass a cap, writes what it has, says why, and
`--resume` with a higher cap goes on; the progress bar's figures.

Every role talks to a real OpenAI-compatible server (tests/support/faultserver.py) that reports 10 input and
20 output tokens per call, as `openai/gpt-4o-mini`, which litellm prices by its name: a round of
six calls (three roles and three solves) costs exactly
`ROUND_USD` and `ROUND_TOKENS`.
"""

import json
import shlex
from pathlib import Path

import pytest

from nanoflux import NanofluxError, parse_spec
from nanoflux.engine.budget import Budget, Spending, expected_rounds
from nanoflux.engine.journal import read_journal
from nanoflux.jobs.compile import compile_spec
from nanoflux.jobs.report.packing import decode_page
from nanoflux.spec.model import BudgetSpec, apply_overrides
from nanoflux.testing import scripted_roles
from tests.support.fakes import SCRIPTED_SPEC, invoke
from tests.support.faultserver import (
    CALLS_PER_ROUND,
    PRICED,
    ROUND_TOKENS,
    ROUND_USD,
    FaultServer,
    priced_spec_text,
)


def round_record(model: str = PRICED, tokens: tuple[int, int] = (10, 20)) -> dict:
    return {"roles": {role: {"model": model, "seconds": 0.1, "input_tokens": tokens[0], "output_tokens": tokens[1]}
                      for role in ("attacker", "defender", "judge")}}


def test_the_run_stops_before_the_cost_cap_says_why_and_resumes_only_with_a_higher_cap(tmp_path: Path) -> None:
    cap = 4.5 * ROUND_USD  # room for 4 rounds, not 5
    with FaultServer() as server:
        spec_path = tmp_path / "spec.yaml"
        spec_path.write_text(priced_spec_text(server))
        run_dir, cache = tmp_path / "run", tmp_path / "cache"

        stopped = invoke("compile", str(spec_path), "--rounds", "10", "--out", str(run_dir), "--cache-dir", str(cache),
                         "--max-cost", str(cap))
        assert stopped.exit_code == 0, stopped.output
        assert server.count() == 4 * CALLS_PER_ROUND
        assert "Stopped: the next round would likely pass the budget (max_cost $0.00036): the run's 4 rounds " \
               "spent $0.00032, about $0.0000" in stopped.output and "a round. Raise --max-cost" in stopped.output
        manifest = json.loads((run_dir / "manifest.json").read_text())
        assert manifest["budget_stop"] == {"limit": "max_cost", "cap": cap, "spent": pytest.approx(4 * ROUND_USD),
                                           "per_round": pytest.approx(ROUND_USD), "rounds": 4,
                                           "usd": pytest.approx(4 * ROUND_USD), "tokens": 4 * ROUND_TOKENS,
                                           "at_start": False}
        assert manifest["counts"]["rounds_played"] == 4 and manifest["dataset"]["sft"]["rows"] == 4
        assert len((run_dir / "dataset" / "sft.jsonl").read_text().splitlines()) == 4
        assert "The run stopped early: the next round would likely pass the budget" in \
            decode_page((run_dir / "report.html").read_bytes())
        again = shlex.split(stopped.output.split("continue with: ")[1].splitlines()[0])
        assert again[:6] == ["nanoflux", "compile", str(spec_path), "--out", str(run_dir), "--resume"]
        assert again[again.index("--max-cost") + 1] == str(cap)

        same = invoke(*again[1:])
        assert same.exit_code == 0, same.output
        assert server.count() == 4 * CALLS_PER_ROUND, "the same cap: no request"
        assert "Stopped: the budget (max_cost $0.00036) has no room for another round: the run's 4 journaled " \
               "rounds spent $0.00032, about $0.0000" in same.output and "so none was played" in same.output
        assert json.loads((run_dir / "manifest.json").read_text())["budget_stop"]["at_start"] is True

        higher = again[:again.index("--max-cost")] + ["--max-cost", str(7.5 * ROUND_USD)]
        more = invoke(*higher[1:])
        assert more.exit_code == 0, more.output
        assert server.count() == 7 * CALLS_PER_ROUND, "rounds 4-6 played, the earlier session's spending counted"

    assert [r["round_id"] for r in read_journal(run_dir / "rounds.jsonl")] == list(range(7))
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["budget_stop"]["spent"] == pytest.approx(7 * ROUND_USD) and manifest["dataset"]["sft"]["rows"] == 7


def test_rounds_in_flight_count_against_the_cap(tmp_path: Path) -> None:
    cap = 7 * ROUND_TOKENS + ROUND_TOKENS // 2
    with FaultServer() as server:
        result = compile_spec(parse_spec(priced_spec_text(server)), out=tmp_path / "run", rounds=20, threads=3,
                              cache_dir=tmp_path / "cache", budget={"max_tokens": cap}, progress=False)
    spent = result.progress.budget_stop["spent"]
    assert spent <= cap < spent + ROUND_TOKENS, "three rounds at a time, and never one round too many"
    assert spent == 7 * ROUND_TOKENS and server.count() == 7 * CALLS_PER_ROUND
    assert result.manifest["counts"]["rounds_played"] == 7 and result.manifest["budget_stop"]["limit"] == "max_tokens"


def test_the_spec_budget_caps_tokens_of_models_without_a_price(tmp_path: Path) -> None:
    spec = parse_spec(SCRIPTED_SPEC + "rounds: 20\nbudget: {max_tokens: 5000}\n")
    result = compile_spec(spec, out=tmp_path / "run", cache_dir=tmp_path / "cache", lms=scripted_roles(),
                          progress=False)
    stop = result.manifest["budget_stop"]
    assert stop["limit"] == "max_tokens" and stop["usd"] is None, "scripted models have no price: unknown, not 0"
    assert 0 < result.manifest["counts"]["rounds_played"] < 20 and stop["tokens"] == stop["spent"]


def test_a_cost_cap_on_a_model_litellm_cannot_price_is_refused_before_any_call(tmp_path: Path) -> None:
    with pytest.raises(NanofluxError, match=r"litellm's price of every model, and it has none for scripted/a, "
                                            r"scripted/b, scripted/judge, scripted/solver; cap the run's tokens "
                                            r"with --max-tokens"):
        compile_spec(parse_spec(SCRIPTED_SPEC), out=tmp_path / "run", lms=scripted_roles(), progress=False,
                     budget={"max_cost": 1.0})
    assert not read_journal(tmp_path / "run" / "rounds.jsonl")


def test_a_higher_cap_is_the_same_run_and_a_bad_cap_names_its_option() -> None:
    spec = parse_spec(SCRIPTED_SPEC)
    assert apply_overrides(spec, budget={"max_cost": 2.0}).digest() == spec.digest()
    with pytest.raises(NanofluxError, match=r"invalid --max-tokens 0: Input should be greater than or equal to 1"):
        apply_overrides(spec, budget={"max_tokens": 0})


def test_a_round_is_refused_when_it_and_those_in_flight_would_likely_pass_the_cap() -> None:
    spending = Spending.of([round_record()] * 2)  # 180 tokens, 90 a round
    budget = Budget.of(BudgetSpec(max_tokens=400), spending)
    assert budget.allows(in_flight=1) and budget.stop() is None, "180 + 2 x 90 = 360 fits"
    assert not budget.allows(in_flight=2), "180 + 3 x 90 = 450 does not"
    assert budget.stop()["limit"] == "max_tokens" and budget.stop()["at_start"] is False
    assert Budget.of(BudgetSpec(), spending).allows(in_flight=100), "no cap"
    fresh = Budget.of(BudgetSpec(max_tokens=1), Spending())
    assert fresh.allows(in_flight=5), "before the first round nothing is known"


def test_the_whole_run_is_projected_at_the_acceptance_rate_so_far() -> None:
    assert expected_rounds(played=10, accepted=5, planned=1000, size=50) == 100
    assert expected_rounds(played=10, accepted=5, planned=60, size=50) == 60, "the rounds planned end it first"
    assert expected_rounds(played=10, accepted=0, planned=1000, size=50) == 1000, "no rate yet: every round"
    assert expected_rounds(played=10, accepted=50, planned=1000, size=50) == 10, "full: the run is over"


def test_the_progress_bar_shows_dollars_when_priced_and_tokens_when_not() -> None:
    priced = Spending.of([round_record()] * 4)
    assert priced.postfix(played=4, expected=1000) == {"cost": "$0.00016", "projected": "$0.0405"}
    unknown = Spending.of([round_record("openai/my-own-vllm-model")] * 4)
    assert unknown.postfix(played=4, expected=1000) == {"cost": "unknown price", "tokens": "360",
                                                        "projected": "90.0k tokens"}
    embedded = Spending.of([round_record("local/smollm2-135m", (1000, 500))] * 4)
    assert embedded.postfix(played=4, expected=1000) == {"cost": "$0 (embedded)", "tokens": "18.0k",
                                                         "projected": "4.5M tokens"}
    assert Spending().postfix(played=0, expected=1000) == {}
