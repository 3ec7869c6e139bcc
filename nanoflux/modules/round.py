"""Round: one adversarial exchange, attacker -> defender -> independent solves -> judge (-> the defender's revisions),
each role on its own LM."""

import hashlib
import logging
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import dspy
from dspy.utils.exceptions import AdapterParseError
from dspy.utils.usage_tracker import UsageTracker

from nanoflux.base.names import ROLES
from nanoflux.clients.reasoning import collect_traces, join_traces
from nanoflux.clients.usage import token_usage
from nanoflux.modules.attacker import Attacker
from nanoflux.modules.defender import Defender, Reviser
from nanoflux.modules.judge import Judge
from nanoflux.modules.solver import Solver
from nanoflux.spec.model import SOLVER_TEMPERATURE

logger = logging.getLogger(__name__)

FAILED_CALL = "nanoflux_failed_call"  # the attribute a role's exception carries: which role's LM raised it
PAID_CALLS = "nanoflux_paid_calls"  # and the calls the round made before it failed, as `calls` holds them
TRACE_CHARS = 16_000  # the most of a role's reasoning trace a round keeps (`clip_trace`): a journal line stays small


@dataclass(frozen=True)
class RoleLMs:
    """The LMs behind the roles. With `alternate`, odd rounds swap the attacker's and defender's LMs;
    the solver's LM is the judge's when none is given.

    LMs are shared resources (an embedded model holds its weights): copying a program for an
    optimizer shares them rather than copying them.
    """

    attacker: dspy.BaseLM
    defender: dspy.BaseLM
    judge: dspy.BaseLM
    alternate: bool = False
    solver: dspy.BaseLM | None = None

    def for_round(self, index: int) -> dict[str, dspy.BaseLM]:
        swap = self.alternate and index % 2 == 1
        return {
            "attacker": self.defender if swap else self.attacker,
            "defender": self.attacker if swap else self.defender,
            "solver": self.solver or self.judge,
            "judge": self.judge,
        }

    def __deepcopy__(self, memo: dict[int, Any]) -> "RoleLMs":
        return self


class Round(dspy.Module):
    """Plays one round: the attacker writes a question, the defender answers, the judge scores.

    Before the judge, the solver solves the question `solves` times, shown only the question; their
    answers go to the judge, which confirms or refutes the reference with them (`nanoflux.verify.confirm`),
    and into the prediction's `solves`, each with its model, answer and (for a program) code and output.
    A solve whose output did not parse is kept with its `error` and no answer; the round goes on.
    Each role runs under its own LM and adapter; the prediction carries every role's outputs, the
    models that played, and per-role latency and token counts for the journal (the solves' summed under
    `solver`, with their `calls`). A `rollout_id` (the runner gives each attempt at a round its own)
    keys the calls of every sampling role in DSPy's cache, so identical prompts in two rounds are
    sampled twice, not answered from the cache; each solve has its own key (`solve_rollout_id`).

    With `revise` above 0, a defender whose answer the judge finds incorrect answers again, up to `revise`
    times, until the judge finds one correct: the reviser (on the defender's LM, its calls counted as the
    defender's) is shown its previous reasoning and answer and the judge's `feedback` (never the reference),
    and each new answer is judged like the first, with the same solves' answers (they are not solved again).
    The prediction's `revisions` lists them (present whenever `revise` is above 0); the first answer stays in
    `defender_answer` and `judge`. Each revision's calls have their own key (`revision_rollout_id`).

    A role on a thinking model returns a reasoning trace with its answer (`nanoflux.clients.reasoning`): the
    prediction's `traces` holds each role's in `keep_reasoning` (attacker, defender, judge; each solve keeps
    its own under `trace`), clipped to TRACE_CHARS, and is absent when none came back.

    Example:
        >>> program = Round(Attacker(), Defender(), Judge(weights={"correctness": 1.0}), lms=role_lms)
        >>> result = program(topic="probability", hops=3, answer_type="numeric", round_index=0)
        >>> print(result.question, result.judge["level"])
    """

    def __init__(self, attacker: Attacker, defender: Defender, judge: Judge, *, lms: RoleLMs,
                 adapter: dspy.Adapter | None = None, solver: Solver | None = None, solves: int = 0,
                 reviser: Reviser | None = None, revise: int = 0, keep_reasoning: Collection[str] = ROLES):
        super().__init__()
        self.attacker = attacker
        self.defender = defender
        self.reviser = reviser or Reviser()
        self.solver = solver or Solver()
        self.judge = judge
        self.lms = lms
        self.adapter = adapter or dspy.JSONAdapter()
        self.solves = solves
        self.revise = revise
        self.keep_reasoning = frozenset(keep_reasoning)  # roles whose traces are kept (`roles.<role>.keep_reasoning`)

    def load_state(self, state: dict[str, Any], **kwargs: Any) -> "Round":
        """Load saved prompts and demos; a program saved before the solver (or the reviser) keeps that one's own."""
        mine = {name: value for name, value in self.dump_state().items() if name.startswith(("solver.", "reviser."))}
        return super().load_state({**mine, **state}, **kwargs)

    def forward(self, topic: str, hops: int, answer_type: str, avoid: Sequence[str] = (),
                round_index: int = 0, rollout_id: int | None = None) -> dspy.Prediction:
        calls: dict[str, dict[str, Any]] = {}
        try:
            played = self.lms.for_round(round_index)
            lms = {role: sampling(lm, rollout_id) for role, lm in played.items()}
            attack = self._play("attacker", lms, calls, self.attacker, topic=topic, hops=hops,
                                answer_type=answer_type, avoid=avoid)
            question = _required_text(attack.question, "question")
            reference = _required_text(attack.reference_answer, "reference_answer")
            steps = [str(step).strip() for step in (attack.solution_steps or []) if str(step).strip()]
            defense = self._play("defender", lms, calls, self.defender, question=question)
            answer = str(defense.answer or "").strip()
            solves = self._solve(question, played["solver"], calls, rollout_id)
            judged = {"question": question, "reference_answer": reference, "solution_steps": steps,
                      "solves": [solve["answer"] for solve in solves]}
            verdict = self._play("judge", lms, calls, self.judge, reasoning=str(defense.reasoning or ""),
                                 answer=answer, **judged)
            for solve, agreement in zip(solves, verdict.confirmation["verdicts"], strict=False):
                solve["agreement"] = agreement
            extra: dict[str, Any] = {"solves": solves} if self.solves else {}
            if traces := {role: prediction.trace for role, prediction in
                          (("attacker", attack), ("defender", defense), ("judge", verdict)) if prediction.trace}:
                extra["traces"] = traces
            if self.revise:
                extra["revisions"] = self._revise(judged, str(defense.reasoning or "").strip(), answer, verdict,
                                                  played, calls, rollout_id)
            return dspy.Prediction(
                topic=topic, hops=hops, question=question, reference_answer=reference, solution_steps=steps,
                annotation=str(attack.annotation or "").strip(),
                defender_reasoning=str(defense.reasoning or "").strip(), defender_answer=answer,
                judge=outputs(verdict),
                models={role: lm.model for role, lm in lms.items() if role != "solver" or self.solves},
                roles=calls, **extra,
            )
        except Exception as exc:
            setattr(exc, PAID_CALLS, calls)  # what the round cost before it failed (`paid_calls`)
            raise

    def _solve(self, question: str, lm: dspy.BaseLM, calls: dict[str, dict[str, Any]],
               rollout_id: int | None) -> list[dict[str, Any]]:
        """The round's independent solves, each a fresh sample under its own rollout key, shown only the question."""
        solves = []
        if self.solves > 1 and not _samples(lm):  # the judge's LM standing in (RoleLMs without a solver), say
            # At temperature 0 every solve would be one answer repeated (and the cache would serve it), agreeing
            # with itself: the solves sample at the solver's temperature instead.
            logger.info("the solver's LM %s does not sample; its solves sample at temperature %s", lm.model,
                        SOLVER_TEMPERATURE)
            lm = lm.copy(temperature=SOLVER_TEMPERATURE)
        for index in range(self.solves):
            lms = {"solver": sampling(lm, solve_rollout_id(rollout_id, index))}
            try:
                solved = self._play("solver", lms, calls, self.solver, question=question)
            except AdapterParseError as exc:  # the solve said nothing usable: it has no answer, the round goes on
                solves.append({"model": lm.model, "answer": None, "solution": "", "error": _clip(str(exc))})
                continue
            solve = {"model": lm.model, "answer": solved.answer, "solution": solved.solution}
            if "program" in solved.keys():
                solve.update(program=solved.program, output=solved.output)
            solves.append({**solve, "error": solved.error, **({"trace": solved.trace} if solved.trace else {})})
        return solves

    def _revise(self, judged: dict[str, Any], reasoning: str, answer: str, verdict: dspy.Prediction,
                played: dict[str, dspy.BaseLM], calls: dict[str, dict[str, Any]],
                rollout_id: int | None) -> list[dict[str, Any]]:
        """The defender's answers after its first, each judged like it (`judged`: the judge's other inputs), until
        one is correct or `revise` were given; each revision's calls under their own rollout key."""
        revisions: list[dict[str, Any]] = []
        while verdict.verdict != "correct" and len(revisions) < self.revise:
            rollout = revision_rollout_id(rollout_id, len(revisions))
            lms = {role: sampling(played[role], rollout) for role in ("defender", "judge")}
            feedback = self.judge.feedback(judged["question"], reasoning, answer, verdict, judged["reference_answer"])
            revised = self._play("defender", lms, calls, self.reviser, question=judged["question"],
                                 previous_reasoning=reasoning, previous_answer=answer, feedback=feedback)
            reasoning, answer = str(revised.reasoning or "").strip(), str(revised.answer or "").strip()
            verdict = self._play("judge", lms, calls, self.judge, reasoning=reasoning, answer=answer, **judged)
            revision = {"feedback": feedback, "reasoning": reasoning, "answer": answer,
                        "judge": outputs(verdict)}
            if thought := revised.trace:
                revision["trace"] = thought
            revisions.append(revision)
        return revisions

    def _play(self, role: str, lms: dict[str, dspy.BaseLM], calls: dict[str, dict[str, Any]],
              module: dspy.Module, **inputs: Any) -> dspy.Prediction:
        """Run one role's module on its LM and adapter, put its call into `calls`, and return its prediction
        with the reasoning trace of its LM calls as `trace` (clipped; "" when none came back or the role's
        traces are not kept)."""
        start = time.perf_counter()
        with dspy.track_usage() as usage, collect_traces() as thoughts:
            try:
                with dspy.context(lm=lms[role], adapter=self.adapter):
                    result = module(**inputs)
            except Exception as exc:
                # The exception keeps its type (callers and optimizers catch it as before); it only learns
                # which role and server it came from, so a failed round can name them; the call goes into
                # `calls` if it was paid for (an answer that did not parse was), so a budget counts it.
                setattr(exc, FAILED_CALL, {"role": role, "model": lms[role].model,
                                           "api_base": getattr(lms[role], "kwargs", {}).get("api_base")})
                before = calls.get(role)
                if _record_call(calls, role, lms[role], start, usage)["input_tokens"] == 0:
                    # nothing reached a model (or the cache answered): no call to count
                    if before is None:
                        del calls[role]
                    else:
                        calls[role] = before
                raise
        _record_call(calls, role, lms[role], start, usage)
        result["trace"] = clip_trace(join_traces(thoughts)) if role in self.keep_reasoning else ""
        return result


def outputs(prediction: dspy.Prediction) -> dict[str, Any]:
    """A role's outputs as a dict (the judge's result in a record), without the `trace` `Round._play` adds."""
    return {key: prediction[key] for key in prediction.keys() if key != "trace"}


def clip_trace(text: str, limit: int = TRACE_CHARS) -> str:
    """A reasoning trace cut to its first `limit` characters, ending with a marker of how many were cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n[... {len(text) - limit:,} more characters of reasoning cut]"


def _record_call(calls: dict[str, dict[str, Any]], role: str, lm: dspy.BaseLM, start: float,
                 usage: UsageTracker) -> dict[str, Any]:
    """Put a role's call (model, seconds, tokens paid) into the round's `calls` and return the call; a role
    called again in the round (the solver, once a solve) adds to its entry, which then counts its `calls`."""
    tokens = token_usage(usage).values()
    call = {
        "model": lm.model,
        "seconds": round(time.perf_counter() - start, 3),
        "input_tokens": sum(used["input_tokens"] for used in tokens),
        "output_tokens": sum(used["output_tokens"] for used in tokens),
    }
    if reasoning := sum(used["reasoning_tokens"] for used in tokens):  # absent when the provider reports none
        call["reasoning_tokens"] = reasoning
    if (earlier := calls.get(role)) is None:
        calls[role] = dict(call)
    else:
        summed = {key: round(earlier.get(key, 0) + call.get(key, 0), 3)
                  for key in ("seconds", "input_tokens", "output_tokens", "reasoning_tokens")
                  if key in earlier or key in call}
        calls[role] = {"model": call["model"], "calls": earlier.get("calls", 1) + 1, **summed}
    return call


def sampling(lm: dspy.BaseLM, rollout_id: int | None) -> dspy.BaseLM:
    """`lm` whose calls carry `rollout_id` when it samples (temperature > 0); at temperature 0 the
    answer is the same whatever the key, so the cache may serve it (and DSPy would warn)."""
    if rollout_id is None or not _samples(lm):
        return lm
    return lm.copy(rollout_id=rollout_id)


def _samples(lm: dspy.BaseLM) -> bool:
    return (getattr(lm, "kwargs", {}).get("temperature") or 0) > 0


def solve_rollout_id(rollout_id: int | None, index: int) -> int:
    """The rollout key of a round's `index`-th solve: its own per attempt and solve, so no solve is another's
    cached answer, and a resumed attempt asks (and the cache answers) exactly what it asked before."""
    return _call_rollout_id(rollout_id, "solve", index)


def revision_rollout_id(rollout_id: int | None, index: int) -> int:
    """The rollout key of a round's `index`-th revision (its reviser's and judge's calls), as `solve_rollout_id`:
    no revision is the cached first answer or another revision, and a resumed attempt asks what it asked before."""
    return _call_rollout_id(rollout_id, "revision", index)


def _call_rollout_id(rollout_id: int | None, kind: str, index: int) -> int:
    digest = hashlib.sha256(f"{rollout_id}:{kind}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 4


def failed_call(exc: BaseException) -> dict[str, Any]:
    """The role, model and api_base whose call raised `exc` inside a Round, or {} if no role's did."""
    return getattr(exc, FAILED_CALL, None) or {}


def paid_calls(exc: BaseException) -> dict[str, dict[str, Any]]:
    """The calls a Round made, per role, before `exc` ended it (a record's `roles`), or {}."""
    return getattr(exc, PAID_CALLS, None) or {}


def _clip(text: str, limit: int = 500) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _required_text(value: Any, field: str) -> str:
    text = str(value or "").strip()
    if not text:
        raise ValueError(f"the attacker left `{field}` empty")
    return text
