"""Round: one adversarial exchange, attacker -> defender -> judge, each role on its own LM."""

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dspy
from dspy.utils.usage_tracker import UsageTracker

from nanoflux.clients.usage import token_usage
from nanoflux.modules.attacker import Attacker
from nanoflux.modules.defender import Defender
from nanoflux.modules.judge import Judge

FAILED_CALL = "nanoflux_failed_call"  # the attribute a role's exception carries: which role's LM raised it
PAID_CALLS = "nanoflux_paid_calls"  # and the calls the round made before it failed, as `trace` holds them


@dataclass(frozen=True)
class RoleLMs:
    """The LMs behind the roles. With `alternate`, odd rounds swap the attacker's and defender's LMs.

    LMs are shared resources (an embedded model holds its weights): copying a program for an
    optimizer shares them rather than copying them.
    """

    attacker: dspy.BaseLM
    defender: dspy.BaseLM
    judge: dspy.BaseLM
    alternate: bool = False

    def for_round(self, index: int) -> dict[str, dspy.BaseLM]:
        swap = self.alternate and index % 2 == 1
        return {
            "attacker": self.defender if swap else self.attacker,
            "defender": self.attacker if swap else self.defender,
            "judge": self.judge,
        }

    def __deepcopy__(self, memo: dict[int, Any]) -> "RoleLMs":
        return self


class Round(dspy.Module):
    """Plays one round: the attacker writes a question, the defender answers, the judge scores.

    Each role runs under its own LM and adapter; the prediction carries every role's outputs, the
    models that played, and per-role latency and token counts for the journal. A `rollout_id` (the
    runner gives each attempt at a round its own) keys the calls of every sampling role in DSPy's
    cache, so identical prompts in two rounds are sampled twice, not answered from the cache.

    Example:
        >>> program = Round(Attacker(), Defender(), Judge(weights={"correctness": 1.0}), lms=role_lms)
        >>> result = program(topic="probability", hops=3, answer_type="numeric", round_index=0)
        >>> print(result.question, result.judge["level"])
    """

    def __init__(self, attacker: Attacker, defender: Defender, judge: Judge, *, lms: RoleLMs,
                 adapter: dspy.Adapter | None = None):
        super().__init__()
        self.attacker = attacker
        self.defender = defender
        self.judge = judge
        self.lms = lms
        self.adapter = adapter or dspy.JSONAdapter()

    def forward(self, topic: str, hops: int, answer_type: str, avoid: Sequence[str] = (),
                round_index: int = 0, rollout_id: int | None = None) -> dspy.Prediction:
        trace: dict[str, dict[str, Any]] = {}
        try:
            lms = {role: sampling(lm, rollout_id) for role, lm in self.lms.for_round(round_index).items()}
            attack = self._play("attacker", lms, trace, self.attacker, topic=topic, hops=hops,
                                answer_type=answer_type, avoid=avoid)
            question = _required_text(attack.question, "question")
            reference = _required_text(attack.reference_answer, "reference_answer")
            steps = [str(step).strip() for step in (attack.solution_steps or []) if str(step).strip()]
            defense = self._play("defender", lms, trace, self.defender, question=question)
            answer = str(defense.answer or "").strip()
            verdict = self._play("judge", lms, trace, self.judge, question=question, reference_answer=reference,
                                 solution_steps=steps, reasoning=str(defense.reasoning or ""), answer=answer)
            return dspy.Prediction(
                topic=topic, hops=hops, question=question, reference_answer=reference, solution_steps=steps,
                annotation=str(attack.annotation or "").strip(),
                defender_reasoning=str(defense.reasoning or "").strip(), defender_answer=answer,
                judge={key: verdict[key] for key in verdict.keys()},
                models={role: lm.model for role, lm in lms.items()}, roles=trace,
            )
        except Exception as exc:
            setattr(exc, PAID_CALLS, trace)  # what the round cost before it failed (`paid_calls`)
            raise

    def _play(self, role: str, lms: dict[str, dspy.BaseLM], trace: dict[str, dict[str, Any]],
              module: dspy.Module, **inputs: Any) -> dspy.Prediction:
        start = time.perf_counter()
        with dspy.track_usage() as usage:
            try:
                with dspy.context(lm=lms[role], adapter=self.adapter):
                    result = module(**inputs)
            except Exception as exc:
                # The exception keeps its type (callers and optimizers catch it as before); it only learns
                # which role and server it came from, so a failed round can name them; the call goes into
                # `trace` if it was paid for (an answer that did not parse was), so a budget counts it.
                setattr(exc, FAILED_CALL, {"role": role, "model": lms[role].model,
                                           "api_base": getattr(lms[role], "kwargs", {}).get("api_base")})
                if _record_call(trace, role, lms[role], start, usage)["input_tokens"] == 0:
                    del trace[role]  # nothing reached a model (or the cache answered): no call to count
                raise
        _record_call(trace, role, lms[role], start, usage)
        return result


def _record_call(trace: dict[str, dict[str, Any]], role: str, lm: dspy.BaseLM, start: float,
                 usage: UsageTracker) -> dict[str, Any]:
    """Put a role's call (model, seconds, tokens paid) into the round's `trace` and return it."""
    tokens = token_usage(usage).values()
    trace[role] = {
        "model": lm.model,
        "seconds": round(time.perf_counter() - start, 3),
        "input_tokens": sum(used["input_tokens"] for used in tokens),
        "output_tokens": sum(used["output_tokens"] for used in tokens),
    }
    return trace[role]


def sampling(lm: dspy.BaseLM, rollout_id: int | None) -> dspy.BaseLM:
    """`lm` whose calls carry `rollout_id` when it samples (temperature > 0); at temperature 0 the
    answer is the same whatever the key, so the cache may serve it (and DSPy would warn)."""
    if rollout_id is None or not (getattr(lm, "kwargs", {}).get("temperature") or 0) > 0:
        return lm
    return lm.copy(rollout_id=rollout_id)


def failed_call(exc: BaseException) -> dict[str, Any]:
    """The role, model and api_base whose call raised `exc` inside a Round, or {} if no role's did."""
    return getattr(exc, FAILED_CALL, None) or {}


def paid_calls(exc: BaseException) -> dict[str, dict[str, Any]]:
    """The calls a Round made, per role, before `exc` ended it (a record's `roles`), or {}."""
    return getattr(exc, PAID_CALLS, None) or {}


def _required_text(value: Any, field: str) -> str:
    text = str(value or "").strip()
    if not text:
        raise ValueError(f"the attacker left `{field}` empty")
    return text
