"""Spec -> Program: the domain, rubric and tools go into the signatures; the role LMs into the Round."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

import dspy
from pydantic import Field, create_model

from nanoflux.errors import NanofluxError
from nanoflux.lm import make_lm
from nanoflux.modules import Attacker, Defender, Judge, RoleLMs, Round
from nanoflux.signatures import AttackerSignature, DefenderSignature, JudgeSignature
from nanoflux.spec import RoleSpec, Spec
from nanoflux.tools.registry import get_tool

ROLES = ("attacker", "defender", "judge")


def compile_program(spec: Spec, *, lms: RoleLMs | None = None, program_path: str | Path | None = None) -> Round:
    """Build the adversarial Round program for a spec.

    Args:
        spec: a validated spec.
        lms: the role LMs; built from the spec's roles when omitted.
        program_path: a `program.json` saved by `Round.save` (e.g. tuned by an optimizer) whose
            prompts and demos replace the compiled defaults.
    """
    domain = domain_instructions(spec)
    attacker = Attacker(AttackerSignature.append_instructions(domain))
    defender = Defender(DefenderSignature.append_instructions(domain))
    judge = Judge(judge_signature(spec), weights=spec.rubric.weights(), answer_type=spec.questions.answer_type)
    program = Round(attacker, defender, judge, lms=lms or build_role_lms(spec))
    if program_path is not None:
        load_program(program, program_path)
    return program


def domain_instructions(spec: Spec) -> str:
    text = f"Domain: {spec.name}. {spec.description.strip()}"
    if spec.topics:
        text += "\nFocus areas: " + "; ".join(spec.topics) + "."
    return text


def judge_signature(spec: Spec) -> type[dspy.Signature]:
    """The judge's signature for this spec: one bounded 1-5 score field per rubric dimension."""
    dimensions = spec.rubric.dimensions
    scores = create_model(  # a schema-constrained model must then emit every dimension, each 1-5
        "RubricScores",
        **{d.name: (int, Field(ge=1, le=5, description=d.description)) for d in dimensions},
    )
    rubric = "\n".join(f"- {d.name} (weight {d.weight:g}): {d.description}" for d in dimensions)
    tools = "\n".join(f"- {name}: {get_tool(name).description}" for name in spec.tools)
    instructions = (f"{domain_instructions(spec)}\n\nRubric (score each dimension 1-5):\n{rubric}"
                    f"\n\nThe evidence was gathered with these tools:\n{tools}")
    return (JudgeSignature.append_instructions(instructions)
            .with_updated_fields("scores", type_=scores)
            .with_updated_fields("verdict", type_=Literal["correct", "incorrect"]))


def build_role_lms(spec: Spec) -> RoleLMs:
    """One dspy.LM per role, from the spec's role settings."""
    lms = {}
    for role in ROLES:
        settings: RoleSpec = getattr(spec.roles, role)
        lms[role] = make_lm(settings.model, temperature=settings.temperature, max_tokens=settings.max_tokens,
                            api_base=settings.api_base, api_key_env=settings.api_key_env,
                            structured_output=settings.structured_output)
    return RoleLMs(**lms, alternate=spec.roles.alternate)


def program_digest(program: dspy.Module) -> str:
    """A hash of the program's prompts and demos, recorded with every round to trace it to its prompts."""
    state = json.dumps(program.dump_state(), sort_keys=True, default=str)
    return hashlib.sha256(state.encode()).hexdigest()[:16]


def load_program(program: dspy.Module, path: str | Path) -> None:
    path = Path(path)
    if not path.is_file():
        raise NanofluxError(f"program file {path} does not exist; pass a program.json written by `nanoflux optimize`")
    try:
        program.load(str(path))
    except (ValueError, KeyError, json.JSONDecodeError) as exc:
        raise NanofluxError(f"{path} is not a program for this spec ({exc}); "
                            "re-run `nanoflux optimize` for this spec or drop --program") from None
