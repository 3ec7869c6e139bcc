"""Spec -> Program: the domain, rubric and tools go into the signatures; the role LMs into the Round."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Literal

import dspy
from pydantic import Field, create_model

from nanoflux.base.errors import NanofluxError
from nanoflux.base.names import ROLES
from nanoflux.clients.lm import make_lm
from nanoflux.clients.ratelimit import Limit, model_key, model_limits
from nanoflux.modules import Attacker, Defender, Judge, Reviser, RoleLMs, Round, Solver
from nanoflux.signatures import (
    AttackerSignature,
    DefenderSignature,
    JudgeSignature,
    ReviserSignature,
    SolverProgramSignature,
    SolverSignature,
)
from nanoflux.spec.model import RoleSpec, Spec
from nanoflux.tools.registry import get_tool

log = logging.getLogger(__name__)


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
    reviser = Reviser(ReviserSignature.append_instructions(domain))
    keep = frozenset(role for role in ROLES if spec.roles.settings(role).keep_reasoning)
    program = Round(attacker, defender, build_judge(spec), lms=lms or build_role_lms(spec), solver=build_solver(spec),
                    solves=spec.roles.judge.solves, reviser=reviser, revise=spec.roles.judge.revise,
                    keep_reasoning=keep)
    if program_path is not None:
        load_program(program, program_path)
    return program


def domain_instructions(spec: Spec) -> str:
    text = f"Domain: {spec.name}. {spec.description.strip()}"
    if spec.topics:
        text += "\nFocus areas: " + "; ".join(spec.topics) + "."
    return text


def build_solver(spec: Spec) -> Solver:
    """The spec's solver: a program run in the spec's sandbox when `python` is among its tools and
    `roles.judge.solve_programs` (the default), otherwise an answer in words. Where the sandbox cannot
    run code (no bubblewrap), a program solve would never answer and no reference would be confirmed:
    the solver answers in words instead, and says so."""
    sandbox = spec.code_sandbox()
    program = spec.roles.judge.solve_programs and "python" in spec.tools
    if program and (refused := sandbox.refusal()):
        log.warning("the solver answers in words, not programs: %s", refused)
        program = False
    signature = SolverProgramSignature if program else SolverSignature
    return Solver(signature.append_instructions(domain_instructions(spec)), program=program, sandbox=sandbox)


def build_judge(spec: Spec) -> Judge:
    """The spec's judge; with `roles.judge.agentic` its grader may call the spec's tools itself.

    Code (the solution steps' python blocks, the `python` tool) runs in the spec's `sandbox` mode.
    """
    settings, sandbox = spec.roles.judge, spec.code_sandbox()
    agent_tools = [fn for name in spec.tools for fn in get_tool(name).functions_for(sandbox)] \
        if settings.agentic else []
    return Judge(judge_signature(spec), weights=spec.rubric.weights(), answer_type=spec.questions.answer_type,
                 agent_tools=agent_tools, max_iters=settings.max_iters, sandbox=sandbox, agree=settings.agree)


def judge_signature(spec: Spec) -> type[dspy.Signature]:
    """The judge's signature for this spec: one bounded 1-5 score field per rubric dimension."""
    dimensions = spec.rubric.dimensions
    # An enum, not ge/le bounds: llama.cpp's grammar enforces enums, so even a small model emits 1-5.
    scores = create_model(
        "RubricScores",
        **{d.name: (Literal[1, 2, 3, 4, 5], Field(description=d.description)) for d in dimensions},
    )
    rubric = "\n".join(f"- {d.name} (weight {d.weight:g}): {d.description}" for d in dimensions)
    tools = "\n".join(f"- {name}: {get_tool(name).description}" for name in spec.tools)
    instructions = (f"{domain_instructions(spec)}\n\nRubric (score each dimension 1-5):\n{rubric}"
                    f"\n\nThe evidence was gathered with these tools:\n{tools}")
    return (JudgeSignature.append_instructions(instructions)
            .with_updated_fields("scores", type_=scores)
            .with_updated_fields("verdict", type_=Literal["correct", "incorrect"]))


def build_role_lms(spec: Spec) -> RoleLMs:
    """One dspy.LM per role (the solver's on the judge's settings unless it has its own), from the spec's role
    settings; roles on one model share its strictest rate limit."""
    roles = {role: spec.roles.settings(role) for role in ROLES}
    limits = model_limits(roles.values())
    return RoleLMs(**{role: role_lm(settings, limit=limits.get(model_key(settings.model, settings.api_base), Limit()))
                      for role, settings in roles.items()}, alternate=spec.roles.alternate)


def role_lm(settings: RoleSpec, *, cache: bool = True, limit: Limit | None = None) -> dspy.LM:
    """The dspy.LM one role's settings describe; `limit` replaces the role's own `rpm`/`tpm` (the
    strictest of the roles on its model)."""
    limit = Limit(settings.rpm, settings.tpm) if limit is None else limit
    return make_lm(settings.model, temperature=settings.temperature, max_tokens=settings.max_tokens,
                   api_base=settings.api_base, api_key_env=settings.api_key_env,
                   structured_output=settings.structured_output, timeout=settings.timeout,
                   num_retries=settings.num_retries, cache=cache, rpm=limit.rpm, tpm=limit.tpm,
                   reasoning_effort=settings.reasoning_effort)


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
