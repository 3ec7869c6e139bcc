"""The CLI: help that teaches, user errors as one message with exit code 2 and no traceback."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT
from tests.support.fakes import invoke


def test_help_lists_the_commands_with_examples() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    assert "compile" in result.output and "validate" in result.output
    assert "nanoflux compile specs/math.yaml" in result.output


def test_compile_help_shows_every_option_and_every_output_format() -> None:
    result = invoke("compile", "--help")
    for option in ("--rounds", "--out", "--model", "--threads", "--resume", "--retry-failed", "--program",
                   "--cache-dir"):
        assert option in result.output
    assert all(f"{name}.jsonl" in result.output for name in ("sft", "dpo", "rlvr", "stepwise"))


def test_no_help_offers_a_value_that_cannot_be_typed() -> None:
    """`null` is a spec's word: an option is left out instead, and its help says so."""
    from nanoflux.cli import main

    for command in main.commands:
        text = " ".join(invoke(command, "--help").output.split())
        assert not re.search(r"\bnull\b(?! in the spec\))", text), command


@pytest.mark.parametrize(("command", "option", "field"), [
    ("curate", "--band", "curation.band"), ("curate", "--novelty", "curation.novelty"), ("curate", "--seed", "seed"),
    ("compile", "--rounds", "rounds"), ("compile", "--address", "execution.address"),
])
def test_an_option_that_overrides_a_spec_field_is_described_by_the_spec_model(command: str, option: str,
                                                                               field: str) -> None:
    from nanoflux.spec.model import describe, field_at

    text = " ".join(invoke(command, "--help").output.split())
    description = describe(field_at(field)).replace("null", "unset (null in the spec)")
    assert f"{option} " in text and f"{description[1:]}. Default: the spec's `{field}`." in text


def test_validate_accepts_a_shipped_spec() -> None:
    result = invoke("validate", str(ROOT / "specs" / "genomics.yaml"))
    assert result.exit_code == 0 and "valid spec 'genomics'" in result.output


def test_validate_prints_the_rate_limit_each_model_gets_the_strictest_its_roles_set(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("name: a\ndescription: d\nroles:\n  attacker: {model: openai/gpt-4o-mini, rpm: 500, tpm: 90000}\n"
                    "  defender: {model: openai/gpt-4o-mini, rpm: 200}\n  judge: {rpm: 5}\n")
    result = invoke("validate", str(spec))
    assert result.exit_code == 0, result.output
    assert ("rate limit of openai/gpt-4o-mini (attacker, defender; the strictest they set): 200 requests/min, "
            "90000 tokens/min") in result.output
    assert "local/" not in result.output.split("\n", 1)[1], "the embedded judge is never limited"


@pytest.mark.parametrize(("content", "expected"), [
    (None, "does not exist"),
    ("name: a\ndescription: [oops\n", "malformed YAML"),
    ("name: a\ndescription: d\ntopix: [x]\n", "did you mean `topics`"),
    ("name: a\ndescription: d\nrounds: many\n", "rounds (line 3)"),
    ("name: a\ndescription: d\ntools: [abacus]\n", "abacus"),
    ("name: a\ndescription: d\noutput: {formats: [revision]}\n", "set roles.judge.revise (1 to 5)"),
    ("name: a\ndescription: d\nroles: {judge: {revise: 10}}\n", "roles.judge.revise (line 3)"),
    ("name: a\ndescription: d\nroles: {defender: {reasoning_effort: extreme}}\n", "'low', 'medium' or 'high'"),
    ("name: a\ndescription: d\nroles: {defender: {model: local/qwen2.5-0.5b, reasoning_effort: low}}\n",
     "remove reasoning_effort"),
    ("name: a\ndescription: d\noutput: {reasoning: judge}\n", "'none', 'defender' or 'attacker', got 'judge'"),
])
def test_bad_specs_exit_2_with_a_message_and_no_traceback(tmp_path: Path, content: str | None, expected: str) -> None:
    path = tmp_path / "spec.yaml"
    if content is not None:
        path.write_text(content)
    result = invoke("validate", str(path))
    assert result.exit_code == 2
    assert expected in result.output and "Traceback" not in result.output


def test_compile_with_a_malformed_model_option_exits_2(tmp_path: Path) -> None:
    result = invoke("compile", str(ROOT / "specs" / "math.yaml"), "--model", "judge", "--out", str(tmp_path / "r"))
    assert result.exit_code == 2 and "ROLE=MODEL" in result.output


def test_compile_with_an_unknown_role_exits_2(tmp_path: Path) -> None:
    result = invoke("compile", str(ROOT / "specs" / "math.yaml"), "--model", "critic=openai/gpt-4o-mini",
                    "--out", str(tmp_path / "r"))
    assert result.exit_code == 2 and "unknown role" in result.output


def test_compile_with_an_unknown_model_exits_2(tmp_path: Path) -> None:
    result = invoke("compile", str(ROOT / "specs" / "math.yaml"), "--model", "judge=gpt-4o-mni",
                    "--out", str(tmp_path / "r"), "--cache-dir", str(tmp_path / "c"))
    assert result.exit_code == 2 and "gpt-4o-mni" in result.output and "Traceback" not in result.output


def test_compile_against_an_unreachable_server_exits_2_before_playing(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("name: a\ndescription: d\nroles:\n  judge: {model: openai/x, api_base: 'http://127.0.0.1:9/v1'}\n")
    result = invoke("compile", str(spec), "--out", str(tmp_path / "r"), "--cache-dir", str(tmp_path / "c"))
    assert result.exit_code == 2 and "127.0.0.1:9" in result.output
    assert not (tmp_path / "r" / "rounds.jsonl").exists()


def test_compile_with_a_missing_provider_key_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    result = invoke("compile", str(ROOT / "specs" / "math.yaml"), "--model", "judge=openai/gpt-4o-mini",
                    "--out", str(tmp_path / "r"), "--cache-dir", str(tmp_path / "c"))
    assert result.exit_code == 2 and "OPENAI_API_KEY" in result.output


def test_validate_warns_when_code_cannot_be_isolated_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("name: a\ndescription: d\ntools: [sympy, python]\n")
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap to be found
    result = invoke("validate", str(spec))
    assert result.exit_code == 0 and "valid spec 'a'" in result.stdout
    assert "warning: the judge runs model-written code" in result.stderr and "`python` tool" in result.stderr
    assert "apt-get install bubblewrap" in result.stderr
    spec.write_text("name: a\ndescription: d\nsandbox: unsafe-local\n")
    result = invoke("validate", str(spec))
    assert result.exit_code == 0 and "sandbox unsafe-local" in result.stdout and result.stderr == ""


def test_a_spec_names_a_known_sandbox_mode(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("name: a\ndescription: d\nsandbox: docker\n")
    result = invoke("validate", str(spec))
    assert result.exit_code == 2 and "sandbox (line 3)" in result.output and "unsafe-local" in result.output


@pytest.mark.parametrize("command", ["compile", "curate"])
def test_compile_and_curate_run_torch_on_one_thread_and_leave_it_as_it_was(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str) -> None:
    import torch

    from nanoflux.base.errors import NanofluxError

    seen: list[int] = []

    def job(*args: object, **kwargs: object) -> None:
        seen.append(torch.get_num_threads())
        raise NanofluxError("stopped by the test")

    monkeypatch.setattr("nanoflux.jobs.compile.compile_spec", job)
    monkeypatch.setattr("nanoflux.jobs.curate.curate", job)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert invoke(command, str(tmp_path)).exit_code == 2
        assert torch.get_num_threads() == 2
        monkeypatch.setenv("OMP_NUM_THREADS", "2")  # the user's choice stands
        assert invoke(command, str(tmp_path)).exit_code == 2
    finally:
        torch.set_num_threads(before)
    assert seen == [1, 2]


def test_python_dash_m_nanoflux_is_the_nanoflux_command() -> None:
    """`python -m nanoflux` runs the CLI (before it existed, the module form printed nothing and exited 0)."""
    ok = subprocess.run([sys.executable, "-m", "nanoflux", "validate", str(ROOT / "specs" / "math.yaml")],
                        capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert ok.returncode == 0 and "valid spec 'math'" in ok.stdout
    missing = subprocess.run([sys.executable, "-m", "nanoflux", "validate", "no-such-spec.yaml"],
                             capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert missing.returncode == 2 and "does not exist" in missing.stderr and "Traceback" not in missing.stderr
