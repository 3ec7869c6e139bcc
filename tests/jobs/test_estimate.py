"""`nanoflux estimate`: tokens and cost per role and for the whole run, from 3 rounds played or a run's journal.

The server (tests/support/faultserver.py) reports 10 input and 20 output tokens per call, as
`openai/gpt-4o-mini`, which litellm prices by its name: a round of six calls (three roles, three solves)
costs `ROUND_USD`.
"""

import json
from pathlib import Path

import pytest

from nanoflux import NanofluxError, estimate_cost, parse_spec
from nanoflux.engine.journal import read_journal
from nanoflux.jobs.compile import compile_spec
from nanoflux.testing import scripted_roles
from tests.support.fakes import SCRIPTED_SPEC, invoke
from tests.support.faultserver import (
    CALLS_PER_ROUND,
    ROUND_USD,
    FaultServer,
    priced_spec_text,
)


def priced_spec(tmp_path: Path, server: FaultServer) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(priced_spec_text(server))
    return path


def total_row(output: str) -> list[str]:
    return next(line for line in output.splitlines() if line.startswith("total")).split()


def test_a_spec_is_estimated_from_three_rounds_paid_for_in_a_temporary_run(tmp_path: Path) -> None:
    with FaultServer() as server:
        result = invoke("estimate", str(priced_spec(tmp_path, server)), "--rounds", "1000")
        assert server.count() == 3 * CALLS_PER_ROUND
    assert result.exit_code == 0, result.output
    assert "Estimate from 3 rounds in a temporary run directory (deleted), for a run of 1,000 rounds:" in result.output
    assert total_row(result.output) == ["total", "60", "+", "120", "$0.000081", "$0.0810"]
    assert "judge     openai/gpt-4o-mini" in result.output and "Tokens for 1,000 rounds: 180.0k." in result.output
    # The three solves of a round are the solver's row: three calls' tokens.
    assert next(line for line in result.output.splitlines() if line.startswith("solver")).split()[2:5] == \
        ["30", "+", "60"]
    assert "curation.size 200 fills after about 200 rounds, where the run stops: $0.0162." in result.output


def test_the_sample_rounds_are_paid_for_even_when_an_earlier_run_cached_them(tmp_path: Path) -> None:
    with FaultServer() as server:
        spec = priced_spec(tmp_path, server)
        compile_spec(spec, out=tmp_path / "run", rounds=3, cache_dir=tmp_path / "cache", progress=False)
        measured = estimate_cost(spec, out=tmp_path / "sample")
        assert server.count() == 2 * 3 * CALLS_PER_ROUND
    assert measured.to_dict()["usd_per_round"] == pytest.approx(ROUND_USD)
    assert measured.kept and len(read_journal(tmp_path / "sample" / "rounds.jsonl")) == 3, "--out keeps the rounds"


def test_a_run_directory_is_estimated_from_its_journal_without_a_call(tmp_path: Path) -> None:
    with FaultServer() as server:
        run = compile_spec(priced_spec(tmp_path, server), out=tmp_path / "run", rounds=4, cache_dir=tmp_path / "cache",
                           progress=False).run_dir
        calls = server.count()
        result = invoke("estimate", str(run), "--rounds", "5000")
        assert server.count() == calls
    assert result.exit_code == 0, result.output
    assert f"Estimate from 4 rounds in {run}, for a run of 5,000 rounds:" in result.output
    assert total_row(result.output)[-1] == "$0.4050"


def test_models_without_a_price_are_estimated_as_unknown_never_free(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SCRIPTED_SPEC)
    measured = estimate_cost(spec, lms=scripted_roles())
    data = measured.to_dict()
    assert data["run_usd"] is None and data["roles"]["judge"]["usd"] is None and data["run_tokens"] > 0
    assert data["unpriced"] == ["scripted/a", "scripted/b", "scripted/judge", "scripted/solver"]
    assert total_row(measured.render())[-2:] == ["unknown", "price"] and "$" not in measured.render()


def test_a_journal_with_no_paid_call_has_nothing_to_scale_up(tmp_path: Path) -> None:
    run = compile_spec(parse_spec(SCRIPTED_SPEC), out=tmp_path / "run", rounds=1, lms=scripted_roles(),
                       progress=False).run_dir
    [record] = read_journal(run / "rounds.jsonl")
    for call in record["roles"].values():
        call["input_tokens"] = call["output_tokens"] = 0  # as when every call was answered from the cache
    (run / "rounds.jsonl").write_text(json.dumps(record) + "\n")
    with pytest.raises(NanofluxError, match=r"no round in .* spent a token \(1 journaled"):
        estimate_cost(run)


@pytest.mark.parametrize(("args", "message"), [
    (["nowhere.yaml"], "nowhere.yaml does not exist; pass a spec file (e.g. specs/math.yaml) or a run directory"),
    (["{empty}"], "has no rounds.jsonl; pass a run directory made by `nanoflux compile`, or a spec"),
    (["{run}", "--out", "x"], "is a run directory, whose journal is read as it is; --out and --model are for a spec"),
    (["{spec}", "--rounds", "0"], "Invalid value for '--rounds'"),
    (["{bad}"], "budget.max_cost (line 12): Input should be greater than 0"),
])
def test_bad_input_is_one_clear_message_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "rounds.jsonl").write_text("")
    (tmp_path / "spec.yaml").write_text(SCRIPTED_SPEC)
    (tmp_path / "bad.yaml").write_text(SCRIPTED_SPEC + "budget: {max_cost: 0}\n")
    paths = {"empty": tmp_path / "empty", "run": tmp_path / "run", "spec": tmp_path / "spec.yaml",
             "bad": tmp_path / "bad.yaml"}
    result = invoke("estimate", *[arg.format(**paths) for arg in args])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
