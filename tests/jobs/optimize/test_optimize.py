"""Prompt optimization: judge-based metrics, recipes, `nanoflux optimize` end to end, and its LM cache."""

import json
import os
import re
import threading
from pathlib import Path
from typing import Any

import dspy
import pytest
import yaml
from click.testing import CliRunner
from dspy.lm15 import Message, Response, Usage

from nanoflux import NanofluxError, parse_spec
from nanoflux.base.scoring import Band
from nanoflux.cli import main
from nanoflux.engine.compiler import compile_program
from nanoflux.engine.curation.decide import Curator
from nanoflux.engine.curation.novelty import NoveltyFilter
from nanoflux.engine.journal import reference_verified
from nanoflux.jobs.compile import compile_spec
from nanoflux.jobs.optimize import AttackerMetric, DefenderMetric, load_recipe, optimize_spec, parse_recipe
from nanoflux.jobs.optimize.data import record_case
from nanoflux.modules import RoleLMs
from nanoflux.testing import ScriptedEngine, scripted_roles
from tests.support import ROOT
from tests.support.fakes import SCRIPTED_SPEC
from tests.support.records import make_record

RECIPES = sorted((ROOT / "optimizers").glob("*.yaml"))
PROPOSAL = "Chain every step on the result of the one before and hide one trap."

SPEC = SCRIPTED_SPEC + """
examples:
  - {question: "A shelf holds 4 boxes of 3 jars and 5 loose jars. How many jars?", reference_answer: "17", solution_steps: ["4 * 3 = 12", "12 + 5 = 17"]}
  - {question: "A crate holds 6 rows of 2 jars and 1 jar on top. How many jars?", reference_answer: "13", solution_steps: ["6 * 2 = 12", "12 + 1 = 13"]}
  - {question: "Two shelves hold 7 jars each and 3 jars fall. How many are left?", reference_answer: "11", solution_steps: ["2 * 7 = 14", "14 - 3 = 11"]}
  - {question: "A crate of 5 boxes of 4 jars loses 2 jars. How many remain?", reference_answer: "18", solution_steps: ["5 * 4 = 20", "20 - 2 = 18"]}
"""  # noqa: E501 - YAML seed examples, one a line as in a spec file

# Small budgets for every shipped recipe, so each runs end to end in seconds on the scripted LM.
SMALL = {
    "BootstrapFewShotWithRandomSearch": {"params": {"num_candidate_programs": 1}},
    "MIPROv2": {},
    "GEPA": {"params": {"max_metric_calls": 8, "reflection_minibatch_size": 1}},
    "COPRO": {"params": {"breadth": 2, "depth": 1}},
}


class OptimizingEngine(ScriptedEngine):
    """Plays the roles as ScriptedEngine does, answers the optimizers' own calls (proposals, reflections)
    with PROPOSAL, and records the system prompt each role receives."""

    def __init__(self) -> None:
        super().__init__()
        self.systems: list[tuple[str, str]] = []
        self._seen = threading.Lock()

    def complete(self, request: Any) -> Response:
        properties = (request.config.response_format or {}).get("schema", {}).get("properties", {})
        system = request.system if isinstance(request.system, str) else "".join(p.text for p in request.system or [])
        if {"scores", "reference_answer", "answer"} & properties.keys():
            response = super().complete(request)
            with self._seen:
                self.systems.append((self.calls[-1], system + "\n".join(m.text or "" for m in request.messages)))
            return response
        with self._seen:
            self.calls.append("optimizer")
        values = {"string": PROPOSAL, "integer": 1, "number": 1.0, "boolean": True, "array": [PROPOSAL]}
        text = (json.dumps({name: values.get(field.get("type"), PROPOSAL) for name, field in properties.items()})
                if properties else f"```\n{PROPOSAL}\n```")
        return Response(id=None, model="scripted", message=Message.assistant(text), finish_reason="stop",
                        usage=Usage(input_tokens=10, output_tokens=10))


def cached_roles(engine: ScriptedEngine) -> RoleLMs:
    """The scripted roles with DSPy's cache on, as optimize's own LMs have it."""
    a, b, judge = (dspy.LM(name, engine=engine, cache=True, num_retries=0)
                   for name in ("scripted/a", "scripted/b", "scripted/judge"))
    return RoleLMs(attacker=a, defender=b, judge=judge)


def small(path: Path, **overrides: Any):
    data = yaml.safe_load(path.read_text())
    budget = SMALL[data["optimizer"]]
    return parse_recipe({**data, **budget, "params": {**data.get("params", {}), **budget.get("params", {})},
                         "threads": 1, **overrides}, name=path.stem)


def optimize(tmp_path: Path, recipe, engine: ScriptedEngine | None = None, **kwargs):
    engine = engine or OptimizingEngine()
    options = {"out": tmp_path / "opt", "cache_dir": tmp_path / "cache", "lms": cached_roles(engine), "progress": False}
    return optimize_spec(parse_spec(SPEC), recipe, **{**options, **kwargs})


# --- metrics on hand-made rounds ---------------------------------------------------------------

@pytest.fixture(scope="module")
def attacker_metric(tmp_path_factory: pytest.TempPathFactory) -> AttackerMetric:
    novelty = NoveltyFilter(tmp_path_factory.mktemp("novelty"), threshold=0.8)
    novelty.add("known", "A crate holds 9 boxes of 4 apples and 5 loose apples. How many apples are there?")
    return AttackerMetric(Band.parse("L3-L5"), novelty)


def played(**changes: Any) -> dspy.Prediction:
    record = make_record(1, question="A train has 3 cars of 40 seats; 17 seats are empty. How many people ride?",
                         reference="103")
    judge = {**record["judge"], **changes.pop("judge", {})}
    return dspy.Prediction(**{**record, "judge": judge, **changes})


def test_a_valid_hard_novel_in_band_question_scores_full_marks(attacker_metric: AttackerMetric) -> None:
    result = attacker_metric(dspy.Example(), played())
    assert result.score == 1.0
    assert "verified" in result.feedback and "hard enough" in result.feedback and "is new" in result.feedback


def test_a_valid_question_the_defender_solves_scores_half_and_asks_for_more_steps(attacker_metric) -> None:
    solved = {"verdict": "correct", "overall": 4.6, "level": "L5",
              "answer_check": {"verdict": "match", "reason": "103 == 103", "evidence": {}}}
    result = attacker_metric(dspy.Example(), played(judge=solved, defender_answer="103"))
    assert result.score == 0.5
    assert "make it harder" in result.feedback and "inside the band L3-L5" in result.feedback


def test_a_refuted_reference_scores_zero_whatever_else_happened(attacker_metric: AttackerMetric) -> None:
    refuted = {"reference_check": {"verdict": "mismatch", "reason": "the steps give 106, not 103", "evidence": {}}}
    result = attacker_metric(dspy.Example(), played(judge=refuted))
    assert result.score == 0.0
    assert "refuted" in result.feedback and "106, not 103" in result.feedback


@pytest.mark.parametrize("required", [True, False])
@pytest.mark.parametrize("verdict", ["match", "undecidable", "mismatch", "error"])
def test_the_metric_and_the_training_set_keep_the_references_the_curator_keeps(
        verdict: str, required: bool, attacker_metric: AttackerMetric) -> None:
    record = make_record(1, question="A train has 3 cars of 40 seats; 17 seats are empty. How many people ride?",
                         reference="103", reference_check=verdict)
    kept = reference_verified(record["judge"], required=required)
    curator = Curator(Band.parse("L1-L5"), attacker_metric.novelty, require_verified_reference=required)
    assert (curator.screen(record) is None) is kept
    spec = parse_spec(SPEC + f"curation: {{require_verified_reference: {str(required).lower()}}}\n")
    assert (record_case(spec, record) is not None) is kept
    metric = AttackerMetric(Band.parse("L3-L5"), attacker_metric.novelty, require_verified_reference=required)
    scored = metric(dspy.Example(), played(judge={"reference_check": record["judge"]["reference_check"]}))
    assert (scored.score > 0) is kept


def test_a_near_duplicate_loses_the_novelty_share_and_is_shown_what_it_repeats(attacker_metric) -> None:
    question = "A crate holds 9 boxes of 4 apples and 5 loose apples. How many apples?"
    result = attacker_metric(dspy.Example(), played(question=question))
    assert result.score == 0.75
    assert "repeats a known one" in result.feedback and "9 boxes of 4 apples" in result.feedback


def test_an_out_of_band_round_loses_the_band_share(attacker_metric: AttackerMetric) -> None:
    result = attacker_metric(dspy.Example(), played(judge={"overall": 1.2, "level": "L1"}))
    assert result.score == 0.75 and "outside the band" in result.feedback


def test_the_defender_metric_rewards_a_tool_verified_answer_and_the_rubric() -> None:
    gold = dspy.Example(question="4*3+5?", reference_answer="17", solution_steps=["4 * 3 = 12", "12 + 5 = 17"])
    judge = {"scores": {"correctness": 5, "clarity": 5}, "overall": 5.0, "level": "L5", "critique": "Clean."}
    right = DefenderMetric("numeric")(gold, dspy.Prediction(answer="17", judge=judge))
    wrong = DefenderMetric("numeric")(gold, dspy.Prediction(answer="12",
                                                            judge={**judge, "overall": 3.0, "level": "L3"}))
    assert right.score == 1.0 and "Correct" in right.feedback
    assert wrong.score == 0.25
    assert "does not match the reference '17'" in wrong.feedback and "4 * 3 = 12; 12 + 5 = 17" in wrong.feedback


# --- recipes -----------------------------------------------------------------------------------

@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_every_shipped_recipe_validates_against_the_installed_dspy(path: Path) -> None:
    assert load_recipe(path).roles == ["attacker", "defender"]


@pytest.mark.parametrize(("data", "expected"), [
    ({"optimizer": "MIPRO"}, "unknown optimizer 'MIPRO'; did you mean MIPROv2?"),
    ({"optimizer": "MIPROv2", "params": {"num_trails": 3}}, "unknown MIPROv2() parameter 'num_trails'"),
    ({"optimizer": "COPRO", "params": {"bredth": 3}}, "valid: prompt_model, breadth, depth"),
    ({"optimizer": "MIPROv2", "compile": {"minibatch_sise": 3}}, "unknown MIPROv2.compile() parameter"),
    ({"optimizer": "GEPA", "params": {"metric": "x"}}, "NanoFlux supplies it"),
    ({"optimizer": "GEPA", "roles": ["judge"]}, "roles.0"),
    ({"optimizer": "GEPA", "budget": 3}, "unknown field; known fields: optimizer, roles"),
])
def test_a_bad_recipe_names_the_problem_and_the_valid_choices(data: dict, expected: str) -> None:
    with pytest.raises(NanofluxError, match=expected.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        parse_recipe(data)


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("kind", "said"), [
    ("bomb", "aliases expand past 10,000 nodes"), ("fifo", "is a FIFO (named pipe), not a regular file"),
    ("device", "is a device, not a regular file"), ("long-key", "unknown MIPROv2() parameter 'kkkkk"),
])
def test_a_hostile_recipe_file_is_one_short_message_at_once(kind: str, said: str, tmp_path: Path) -> None:
    path = tmp_path / "recipe.yaml"
    if kind == "bomb":  # billion laughs: 9**9 strings in a few hundred bytes
        path.write_text("optimizer: MIPROv2\nparams:\n  a0: &a0 [x, x, x, x, x, x, x, x, x]\n"
                        + "".join(f"  a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 9)))
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        path.symlink_to("/dev/zero")
    else:
        path.write_text(f"optimizer: MIPROv2\nparams: {{{'k' * 1000}: 1}}\n")
    with pytest.raises(NanofluxError) as caught:
        load_recipe(path)
    assert said in str(caught.value) and len(str(caught.value)) < 600, str(caught.value)[:600]


def test_a_recipe_the_optimizer_refuses_fails_before_any_lm_call(tmp_path: Path) -> None:
    engine = OptimizingEngine()
    with pytest.raises(NanofluxError, match="GEPA refused its parameters"):
        optimize(tmp_path, parse_recipe({"optimizer": "GEPA", "metric": "feedback"}), engine)
    assert engine.calls == []


# --- optimize end to end -----------------------------------------------------------------------

@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_each_recipe_tunes_both_roles_and_writes_a_loadable_program(tmp_path: Path, path: Path) -> None:
    result = optimize(tmp_path, small(path))
    report = json.loads((result.out_dir / "optimize.json").read_text())
    assert set(report["metric"]) == {"attacker", "defender"}
    assert all(0 <= m["before"] <= 1 and 0 <= m["after"] <= 1 for m in report["metric"].values())
    assert report["trainset"] == {"source": "spec examples", "train": 3, "dev": 1}
    assert report["cost"]["scripted/judge"]["calls"] > 0 and report["seconds"] > 0
    compile_program(parse_spec(SPEC), lms=scripted_roles(), program_path=result.program_path)


def test_the_tuned_program_changes_the_prompts_the_roles_receive(tmp_path: Path) -> None:
    result = optimize(tmp_path, small(ROOT / "optimizers" / "copro.yaml"))

    def prompts(program_path: Path | None) -> dict[str, str]:
        engine = OptimizingEngine()
        program = compile_program(parse_spec(SPEC), lms=scripted_roles(engine), program_path=program_path)
        program(topic="shelves", hops=2, answer_type="numeric")
        return dict(engine.systems)

    default, tuned = prompts(None), prompts(result.program_path)
    assert PROPOSAL not in default["attacker"] and PROPOSAL in tuned["attacker"]
    assert PROPOSAL in tuned["defender"] and tuned["judge"] == default["judge"]


def test_the_optimize_compile_loop_runs_from_the_command_line(tmp_path: Path, monkeypatch) -> None:
    run = compile_spec(parse_spec(SPEC), out=tmp_path / "run", cache_dir=tmp_path / "cache", lms=scripted_roles(),
                       progress=False)
    engine = OptimizingEngine()
    monkeypatch.setattr("nanoflux.jobs.optimize.job.build_role_lms", lambda spec: cached_roles(engine))
    monkeypatch.setattr("nanoflux.jobs.compile.build_role_lms", lambda spec: scripted_roles())
    (tmp_path / "jars.yaml").write_text(SPEC)
    (tmp_path / "boot.yaml").write_text("optimizer: BootstrapFewShot\nroles: [defender]\n"
                                        "params: {max_bootstrapped_demos: 1, max_labeled_demos: 1}\n")
    cli = CliRunner()
    optimized = cli.invoke(main, ["optimize", str(tmp_path / "jars.yaml"), "--recipe", str(tmp_path / "boot.yaml"),
                                  "--trainset", str(run.run_dir), "--out", str(tmp_path / "opt"),
                                  "--cache-dir", str(tmp_path / "cache")])
    assert optimized.exit_code == 0, optimized.output
    assert "defender" in optimized.output and "--program" in optimized.output
    compiled = cli.invoke(main, ["compile", str(tmp_path / "jars.yaml"), "--out", str(tmp_path / "tuned"),
                                 "--program", str(tmp_path / "opt" / "program.json"),
                                 "--cache-dir", str(tmp_path / "cache")])
    assert compiled.exit_code == 0, compiled.output
    manifest = json.loads((tmp_path / "tuned" / "manifest.json").read_text())
    assert manifest["program"]["loaded_from"] == str(tmp_path / "opt" / "program.json")


def test_the_command_reports_a_bad_recipe_in_one_line_with_exit_code_2(tmp_path: Path) -> None:
    (tmp_path / "jars.yaml").write_text(SPEC)
    (tmp_path / "bad.yaml").write_text("optimizer: Bootstrap\n")
    result = CliRunner().invoke(main, ["optimize", str(tmp_path / "jars.yaml"),
                                       "--recipe", str(tmp_path / "bad.yaml")])
    assert result.exit_code == 2 and "unknown optimizer 'Bootstrap'" in result.output \
        and "Traceback" not in result.output


def test_a_spec_without_examples_and_no_trainset_is_told_where_data_comes_from(tmp_path: Path) -> None:
    spec = parse_spec("name: bare\ndescription: Nothing to learn from.\n")
    with pytest.raises(NanofluxError, match="--trainset RUN_DIR"):
        optimize_spec(spec, parse_recipe({"optimizer": "BootstrapFewShot"}), out=tmp_path / "o",
                      cache_dir=tmp_path / "c", lms=scripted_roles(), progress=False)


def test_rerunning_a_recipe_on_the_same_data_is_served_from_the_lm_cache(tmp_path: Path) -> None:
    recipe = small(ROOT / "optimizers" / "bootstrap.yaml")
    first, second = OptimizingEngine(), OptimizingEngine()
    before = optimize(tmp_path, recipe, first, out=tmp_path / "one")
    again = optimize(tmp_path, recipe, second, out=tmp_path / "two")
    assert first.calls and second.calls == []
    assert again.report["cost"] == {} and again.report["metric"] == before.report["metric"]
    assert again.program_path.read_text() == before.program_path.read_text()


@pytest.mark.slow
def test_the_bootstrap_recipe_tunes_the_embedded_models_defender(tmp_path: Path) -> None:
    spec = parse_spec(SPEC.replace("rounds: 6",
                                   "rounds: 6\nroles: {defender: {max_tokens: 160}, judge: {max_tokens: 160}}"))
    recipe = parse_recipe({"optimizer": "BootstrapFewShot", "roles": ["defender"], "split": {"max_examples": 3},
                           "params": {"max_bootstrapped_demos": 1, "max_labeled_demos": 1}}, name="tiny")
    result = optimize_spec(spec, recipe, out=tmp_path / "opt", cache_dir=tmp_path / "cache", progress=False)
    report = result.report
    assert report["trainset"]["train"] == 2 and report["cost"]["local/smollm2-135m"]["calls"] > 0
    assert 0 <= report["metric"]["defender"]["before"] <= 1 and 0 <= report["metric"]["defender"]["after"] <= 1
    state = json.loads(result.program_path.read_text())
    assert state["defender.answer"]["demos"]


def test_a_bad_line_in_a_jsonl_trainset_names_its_file_and_line(tmp_path: Path) -> None:
    trainset = tmp_path / "seeds.jsonl"
    seed = {"question": "2 + 3?", "reference_answer": "5", "solution_steps": ["2 + 3 = 5"]}
    trainset.write_text(json.dumps(seed) + "\n" + json.dumps({"question": "no answer"}) + "\n")
    with pytest.raises(NanofluxError,
                       match=f"^{re.escape(str(trainset))}:2: neither a journal record nor a seed example"):
        optimize_spec(parse_spec(SPEC), parse_recipe({"optimizer": "BootstrapFewShot"}), trainset=trainset,
                      out=tmp_path / "o", cache_dir=tmp_path / "c", lms=scripted_roles(), progress=False)
