"""The spec: defaults make a short spec valid; every class of bad spec names the field, line and fix."""

import os
import re
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from nanoflux import NanofluxError, load_spec, parse_spec
from nanoflux.base.io import MAX_YAML_BYTES
from nanoflux.base.scoring import Band
from nanoflux.spec.doc import END, PAGE, REGENERATE, START, render_table, replace_table, rows
from nanoflux.spec.model import CurationSpec, RoleSpec, apply_overrides
from tests.support import ROOT

SPECS = sorted(ROOT.joinpath("specs").glob("*.yaml"))


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_every_shipped_spec_is_valid(path: Path) -> None:
    spec = load_spec(path)
    assert spec.name == path.stem
    assert spec.topics and spec.rubric.dimensions


def test_three_example_specs_ship() -> None:
    assert {p.stem for p in SPECS} >= {"math", "genomics", "medical"}


def test_a_two_line_spec_is_valid_with_documented_defaults() -> None:
    spec = parse_spec("name: algebra\ndescription: Multi-step algebra.\n")
    assert spec.roles.attacker.model == "local/smollm2-135m"
    assert spec.roles.alternate is True
    assert spec.questions.hops == (2, 4)
    assert spec.questions.answer_type == "numeric"
    assert spec.curation.band == "L3-L5" and spec.curation.novelty == 0.8
    assert spec.output.formats == ["sft", "dpo"]
    assert abs(sum(spec.rubric.weights().values()) - 1) < 1e-9


def test_hops_accept_a_range_string_or_a_single_number() -> None:
    assert parse_spec("name: a\ndescription: d\nquestions: {hops: 3-5}").questions.hops == (3, 5)
    assert parse_spec("name: a\ndescription: d\nquestions: {hops: 2}").questions.hops == (2, 2)


def _error(text: str) -> str:
    with pytest.raises(NanofluxError) as caught:
        parse_spec(text, source="bad.yaml")
    return str(caught.value)


def test_missing_file_says_which_and_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(NanofluxError, match="does not exist.*specs/math.yaml"):
        load_spec(tmp_path / "nope.yaml")


def _not_regular(kind: str, tmp_path: Path) -> Path:
    """A path named like a spec that is not a regular file: reading it would hang (FIFO) or never end (device)."""
    path = tmp_path / "spec.yaml"
    if kind == "fifo":
        os.mkfifo(path)  # no writer: a plain open() would wait forever
    elif kind == "device":
        path.symlink_to("/dev/zero")
    else:
        path.mkdir()
    return path


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("kind", "said"), [("fifo", "a FIFO (named pipe)"), ("device", "a device"),
                                            ("directory", "a directory")])
def test_a_spec_path_that_is_not_a_regular_file_is_one_message_at_once(kind: str, said: str, tmp_path: Path) -> None:
    path = _not_regular(kind, tmp_path)
    expected = f"spec file {path} is {said}, not a regular file; pass the path of"
    with pytest.raises(NanofluxError, match=re.escape(expected)):
        load_spec(path)


def test_a_spec_file_past_the_size_cap_is_one_message(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("name: a\ndescription: d\n" + "# padding\n" * (MAX_YAML_BYTES // 10 + 1))
    with pytest.raises(NanofluxError, match=re.escape(f"spec file {path} is larger than 2 MiB")):
        load_spec(path)


def _bomb(levels: int = 9) -> str:
    """Billion laughs: each anchor a list of nine aliases of the one before, 9**levels strings in 400 bytes."""
    lines = ["name: a", "description: d", "topics:", "  - &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"  - &l{i} [{','.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def test_a_yaml_bomb_is_refused_at_once_in_one_line_within_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(_bomb())
    assert path.stat().st_size < 500
    limit = 2 << 30  # validating the expanded bomb took 5.8 GB; the CLI itself needs a few hundred MB
    result = subprocess.run([sys.executable, "-c", "from nanoflux.cli import main; main()", "validate", str(path)],
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=300,
                            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit)))
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.count("\n") == 1 and len(result.stderr) < 300, "one line, none of the expanded input"
    assert "aliases expand past 10,000 nodes" in result.stderr and "line 8" in result.stderr


@pytest.mark.parametrize(("text", "said"), [
    pytest.param("name: a\ndescription: d\ntopics: &t [a, *t]\n", "aliases expand past", id="alias-in-its-own-anchor"),
    pytest.param("name: a\ndescription: d\ntopics: " + "[" * 100_000, "nested deeper than 64", id="deep-nesting"),
    pytest.param("name: a\ndescription: *" + "x" * 100_000, "undefined alias", id="long-undefined-alias"),
    pytest.param("name: a\ndescription: d\nrounds: " + "9" * 5000 + "\n", "line 3, column 9: cannot read this value",
                 id="an-int-python-will-not-convert"),
    pytest.param("name: a\ndescription: d\nseed: !!timestamp 2020-13-01\n", "cannot read this value",
                 id="an-impossible-date"),
    pytest.param("name: a\ndescription: d\nroles: {judge: {temperature: 0x" + "f" * 5000 + "}}\n",
                 "(got <an int of 20,000 bits>)", id="an-int-too-long-to-print"),
    pytest.param("name: a\ndescription: d\nroles: {judge: {temperature: " + "hot" * 100_000 + "}}\n",
                 "(got 'hothot", id="long-bad-value"),
    pytest.param("name: a\ndescription: d\n" + "".join(f"k{i}: 1\n" for i in range(5000)), "4980 more",
                 id="many-unknown-keys"),
    pytest.param("name: a\ndescription: d\n? " + "k" * 100_000 + "\n: 1\n", "unknown field", id="long-unknown-key"),
])
def test_a_hostile_spec_is_a_short_message_quoting_little_of_it(text: str, said: str) -> None:
    message = _error(text)
    assert said in message and len(message) < 6000, message[:6000]


def test_aliases_within_the_cap_still_work() -> None:
    spec = parse_spec("name: a\ndescription: d\nroles:\n  attacker: &m {model: openai/gpt-4o-mini, temperature: 0.5}\n"
                      "  defender: *m\ntopics: &t [rates, ratios]\nexamples: []\n")
    assert spec.roles.defender.model == spec.roles.attacker.model == "openai/gpt-4o-mini"


@pytest.mark.parametrize(("text", "fragments"), [
    pytest.param("name: a\ndescription: [unclosed\nrounds: 3\n", ["malformed YAML", "line"],
                 id="malformed-yaml-names-the-line"),
    pytest.param("- just\n- a list\n", ["name: algebra"], id="not-a-mapping-shows-a-minimal-example"),
    pytest.param("name: a\ndescription: d\ncuration:\n  novelti: 0.9\n",
                 ["curation.novelti (line 4)", "did you mean `novelty`"], id="unknown-field-suggests-the-close-one"),
    pytest.param("name: a\ndescription: d\nround: 3\n", ["round (line 3)", "did you mean `rounds`"],
                 id="unknown-top-level-field-suggests-the-close-one"),
    pytest.param("name: a\ndescription: d\nroles:\n  judge:\n    temperature: hot\n",
                 ["roles.judge.temperature (line 5)", "'hot'"], id="wrong-type-names-the-field-path-and-line"),
    pytest.param("name: a\n",
                 ["description (line 1): required field is missing; add it (the domain, in a few sentences;"],
                 id="missing-field-is-named-with-its-description"),
    pytest.param("name: a\ndescription: d\nrubric:\n  dimensions:\n    - {name: x}\n",
                 ["rubric.dimensions.0.description (line 5): required field is missing; add it (what a 5 looks like"],
                 id="missing-nested-field-is-named-with-its-description"),
    pytest.param("name: a\ndescription: d\nquestions:\n  answer_type: essay\n",
                 ["questions.answer_type (line 4)", "'numeric'"], id="unknown-answer-type-lists-the-valid-ones"),
    pytest.param("name: a\ndescription: d\ntools: [sympy, calculator]\n", ["tools", "calculator", "sympy"],
                 id="unknown-tool-lists-the-known-tools"),
    pytest.param("name: a\ndescription: d\ncuration:\n  band: L7\n", ["curation.band (line 4)", "L3-L5"],
                 id="bad-band-shows-the-accepted-forms"),
    pytest.param("name: a\ndescription: d\nquestions: {hops: [4, 2]}\n", ["hops"], id="backwards-hops-are-rejected"),
    pytest.param("name: a\ndescription: d\nrubric:\n  dimensions:\n"
                 "    - {name: x, description: one}\n    - {name: x, description: two}\n", ["unique"],
                 id="duplicate-rubric-dimensions-are-rejected"),
    pytest.param("name: a\ndescription: d\nrounds: 0\nthreads: -1\n", ["2 problem(s)"],
                 id="every-problem-is-reported-at-once"),
])
def test_a_bad_spec_is_one_message_naming_the_problem_and_the_fix(text: str, fragments: list[str]) -> None:
    message = _error(text)
    assert all(fragment in message for fragment in fragments), message


def test_digest_ignores_rounds_and_threads_but_not_models() -> None:
    base = parse_spec("name: a\ndescription: d\n")
    more = parse_spec("name: a\ndescription: d\nrounds: 99\nthreads: 4\n")
    other = parse_spec("name: a\ndescription: d\nroles: {judge: {model: openai/gpt-4o-mini}}\n")
    assert base.digest() == more.digest() != other.digest()


def test_a_run_stopped_by_a_slow_server_may_resume_with_more_patience() -> None:
    base = parse_spec("name: a\ndescription: d\n")
    patient = parse_spec("name: a\ndescription: d\nroles: {judge: {timeout: 600, num_retries: 10, rpm: 60, "
                         "tpm: 9000}}\nexecution: {max_consecutive_failures: 50}\n")
    assert (patient.roles.judge.timeout, patient.roles.judge.num_retries) == (600, 10)
    assert (base.roles.defender.timeout, base.roles.defender.num_retries) == (120, 3)
    assert base.execution.max_consecutive_failures == 5
    assert base.digest() == patient.digest()


def test_traces_and_revisions_at_their_defaults_keep_the_digest_specs_had_before_them() -> None:
    """A run from before traces and revisions resumes; asking a model to think, dropping a role's traces or
    revising makes another run; `output.reasoning` only shapes exported rows."""
    def digest(extra: str = "") -> str:
        return parse_spec(f"name: a\ndescription: d\n{extra}\n").digest()

    assert digest() == "32fbb264e2924473"  # this spec's digest before traces and revisions existed
    assert digest("roles: {defender: {keep_reasoning: true}, judge: {revise: 0}}\noutput: {reasoning: attacker}") \
        == digest()
    assert digest("roles: {attacker: {keep_reasoning: false}}") != digest()
    assert digest("roles: {judge: {revise: 1}}") != digest()
    served = "roles: {defender: {model: openai/x, api_base: 'http://127.0.0.1:1/v1'"
    assert digest(served + ", reasoning_effort: high}}") != digest(served + "}}")


@pytest.mark.parametrize(("text", "field"), [
    ("roles: {judge: {timeout: 0}}", "roles.judge.timeout"),
    ("roles: {attacker: {num_retries: -1}}", "roles.attacker.num_retries"),
    ("roles: {defender: {rpm: 0}}", "roles.defender.rpm"),
    ("roles: {judge: {tpm: -5}}", "roles.judge.tpm"),
    ("execution: {max_consecutive_failures: 0}", "execution.max_consecutive_failures"),
])
def test_failure_settings_out_of_range_name_their_field(text: str, field: str) -> None:
    assert field in _error(f"name: a\ndescription: d\n{text}\n")


@pytest.mark.parametrize(("text", "inside", "outside"), [
    ("L4", [3.5, 4.0, 4.49], [3.49, 4.5]),
    ("L3-L5", [2.5, 5.0], [2.49]),
    ("3.5-4.49", [3.5, 4.49], [4.5, 3.4]),
    ("L1", [1.0, 1.49], [1.5]),
])
def test_bands_select_exactly_what_they_say(text: str, inside: list[float], outside: list[float]) -> None:
    band = Band.parse(text)
    assert all(band.contains(s) for s in inside)
    assert not any(band.contains(s) for s in outside)


def test_curation_names_complexity_defaults_and_runs_to_avoid() -> None:
    spec = parse_spec("name: a\ndescription: d\ncuration: {hops: 2-4, steps: 3, length: 40+, against: [runs/old]}\n")
    assert spec.curation.complexity.to_dict() == {"hops": "2-4", "steps": "3", "length": "40+"}
    assert spec.curation.against == ["runs/old"]
    assert parse_spec("name: a\ndescription: d\n").curation.complexity.to_dict() == dict.fromkeys(
        ("hops", "steps", "length"))


def test_a_malformed_complexity_band_names_the_field_and_line() -> None:
    with pytest.raises(NanofluxError, match=r"curation.hops \(line 4\): hops range '4-2'"):
        parse_spec("name: a\ndescription: d\ncuration:\n  hops: 4-2\n")


def test_a_role_given_in_part_keeps_its_own_temperature_default() -> None:
    spec = parse_spec("name: t\ndescription: d\nroles:\n  attacker: {timeout: 5}\n  defender: {max_tokens: 64}\n"
                      "  judge: {timeout: 5}\n")
    assert (spec.roles.attacker.temperature, spec.roles.defender.temperature,
            spec.roles.judge.temperature) == (0.9, 0.3, 0.0)


# --- the spec table: the docs' spec page's is rendered from the models -----------------------------------


def test_the_spec_pages_table_is_the_one_the_models_render() -> None:
    page = (ROOT / PAGE).read_text(encoding="utf-8")
    assert START in page and END in page
    assert replace_table(page) == page, (
        f"{PAGE}'s spec table differs from the models in nanoflux/spec/model.py; regenerate it with `{REGENERATE}`")


def test_every_field_of_the_spec_has_a_row_with_a_description() -> None:
    table = {row.path: row for row in rows()}
    assert all(row.description for row in table.values()), [p for p, row in table.items() if not row.description]
    leaves = {f"curation.{name}" for name in CurationSpec.model_fields} | {"name", "rounds", "sandbox", "examples"}
    assert leaves <= set(table)
    assert {"roles.<role>.model", "roles.<role>.timeout", "roles.judge.agentic", "roles.alternate",
            "rubric.dimensions[].weight", "examples[].reference_answer", "execution.workers"} <= set(table)
    assert not any(path.startswith(("roles.attacker.", "roles.defender.")) for path in table)


def test_the_table_reads_defaults_bounds_and_types_from_the_models() -> None:
    table = {row.path: row for row in rows()}
    assert (table["name"].default, table["description"].type) == ("required", "str, not empty")
    assert (table["curation.novelty"].type, table["curation.novelty"].default) == ("float in (0, 1]", "`0.8`")
    assert table["curation.hops"].type == "str or null" and table["curation.hops"].default == "`null`"
    assert table["roles.<role>.temperature"].default == "attacker `0.9`, defender `0.3`, judge `0.0`, solver `0.7`"
    assert table["roles.<role>.max_tokens"].default == f"`{RoleSpec.model_fields['max_tokens'].default}`"
    assert table["execution.max_concurrent_calls"].type == "int >= 1 or null"
    assert table["execution.executor"].type == "`threads` or `ray`"
    assert table["questions.hops"].default == "`[2, 4]`"
    assert table["rubric.dimensions"].default == "correctness 0.4, rigor 0.3, completeness 0.2, clarity 0.1"
    assert table["roles.alternate"].default == "`true`"


def test_a_table_cell_with_a_pipe_does_not_break_the_markdown_row() -> None:
    from pydantic import BaseModel, Field

    class Odd(BaseModel):
        mode: str = Field("a|b", description="either | or")

    assert render_table(Odd).splitlines()[-1] == "| `mode` | str | `a\\|b` | either \\| or |"


def test_a_page_without_the_markers_is_refused() -> None:
    with pytest.raises(NanofluxError, match="spec-table"):
        replace_table("# A page\n\n| field | default |\n")


def test_the_solver_plays_on_the_judges_model_settings_unless_given_its_own() -> None:
    spec = parse_spec("name: t\ndescription: d\nroles:\n  judge: {model: openai/gpt-4o-mini, rpm: 60}\n")
    solver = spec.roles.settings("solver")
    assert (solver.model, solver.rpm, solver.temperature) == ("openai/gpt-4o-mini", 60, 0.7)
    assert (spec.roles.judge.solves, spec.roles.judge.agree, spec.roles.judge.solve_programs) == (3, 2, True)
    own = parse_spec("name: t\ndescription: d\nroles: {solver: {model: openai/gpt-4o, temperature: 1.0}}\n")
    assert (own.roles.settings("solver").model, own.roles.settings("solver").temperature) == ("openai/gpt-4o", 1.0)
    assert apply_overrides(spec, models={"solver": "openai/o3-mini"}).roles.settings("solver").model == "openai/o3-mini"


@pytest.mark.parametrize(("roles", "message"), [
    ("{judge: {solves: 1}}", r"roles.judge .*agree \(2\) cannot exceed solves \(1\)"),
    ("{solver: {temperature: 0}}", r"solver samples at temperature 0, so its 3 solves would be one answer repeated"),
])
def test_solves_that_could_not_confirm_anything_are_refused(roles: str, message: str) -> None:
    with pytest.raises(NanofluxError, match=message):
        parse_spec(f"name: t\ndescription: d\nroles: {roles}\n")
    assert parse_spec("name: t\ndescription: d\nroles: {judge: {solves: 1, agree: 1}, solver: {temperature: 0}}\n")


@pytest.mark.parametrize(("text", "message"), [
    ("output: {formats: [sft, revision]}\n", r"roles.judge.revise is 0, so the defender never revises: set "
                                             r"roles.judge.revise \(1 to 5\), or remove `revision`"),
    ("roles: {judge: {revise: 0}}\noutput: {formats: [revision]}\n", r"roles.judge.revise is 0"),
    ("roles: {defender: {keep_reasoning: false}}\noutput: {reasoning: defender}\n",
     r"roles.defender.keep_reasoning is false, so no defender trace is kept to export"),
    ("roles: {attacker: {keep_reasoning: false}}\noutput: {reasoning: attacker}\n",
     r"roles.attacker.keep_reasoning is false"),
])
def test_an_export_the_specs_own_settings_could_never_fill_is_refused(text: str, message: str) -> None:
    with pytest.raises(NanofluxError, match=message):
        parse_spec("name: t\ndescription: d\n" + text)
    assert parse_spec("name: t\ndescription: d\nroles: {judge: {revise: 1}, attacker: {keep_reasoning: false}}\n"
                      "output: {formats: [revision], reasoning: defender}\n")
