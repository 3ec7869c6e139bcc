"""A scripted stand-in LM on DSPy's real engine interface, for tests and benchmarks where a real model adds nothing.

It answers each role from the JSON schema DSPy sends (the output fields tell which role asks),
can sleep a fixed latency per call, and fails a call whose answer function raises. Everything
else is real DSPy, as with DSPy's own `dspy.utils.dummies`:

    from nanoflux import compile_spec
    from nanoflux.testing import scripted_roles

    compile_spec("specs/math.yaml", rounds=3, out="runs/dry", lms=scripted_roles(), progress=False)

The scripted judge scores the default rubric's dimensions (correctness, rigor, completeness,
clarity); a spec with other dimensions needs answers of its own (`ScriptedEngine(answer)`). The
scripted solver answers with the reference the scripted attacker wrote for the question it is
shown (a perfect independent solver: every solve confirms), as a program that prints it when the
solver is asked for one; `ScriptedEngine(solver=...)` scripts it instead.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import dspy
from dspy.lm15 import Message, Response, Usage, response_to_events

from nanoflux.modules import RoleLMs

Answer = Callable[[str, str], dict[str, Any]]  # (role, prompt) -> the role's output fields


def role_of(schema: dict[str, Any]) -> str:
    """The role a request is for, from the output fields of the JSON schema DSPy sends."""
    fields = set(schema.get("properties", {}))
    if "scores" in fields:
        return "judge"
    if "reference_answer" in fields:
        return "attacker"
    if "solution" in fields:
        return "solver"
    return "defender"


# The spec that tests and benchmarks play with the scripted roles: two topics and the default rubric, which
# the scripted judge scores.
SCRIPTED_SPEC = """
name: jars
description: Counting jars on shelves.
topics: [shelves, crates]
rubric:
  dimensions:
    - {name: correctness, description: right}
    - {name: rigor, description: valid}
    - {name: completeness, description: all steps}
    - {name: clarity, description: clear}
rounds: 6
"""

SCENES = [
    "A shelf holds {n} boxes of 3 jars and 5 loose jars. How many jars are there?",
    "A train passes {n} stations, each stop adding 3 carriages, then 5 more are coupled. "
    "How many carriages were added?",
    "A painter mixes {n} buckets of 3 litres and pours in 5 litres of thinner. How many litres are in the vat?",
    "A cinema sells {n} family tickets admitting 3 people each, plus 5 single tickets. How many people enter?",
    "A gardener plants {n} rows of 3 tulips and 5 roses by the gate. How many flowers are planted?",
    "A chess club has {n} teams of 3 players and 5 reserves. How many members are there?",
    "A baker fills {n} trays with 3 loaves each and bakes 5 rolls. How many items come out of the oven?",
    "A satellite sends {n} bursts of 3 packets, then 5 status packets. How many packets arrive?",
    "A library shelves {n} crates of 3 atlases and 5 dictionaries. How many books are shelved?",
    "A ferry makes {n} trips carrying 3 trucks each and 5 motorbikes once. How many vehicles cross?",
    "A choir forms {n} trios and adds 5 soloists. How many singers perform?",
    "A lab runs {n} batches of 3 assays plus 5 controls. How many assays are run?",
]


class Oracle:
    """A perfect independent solver for scripted rounds: it answers a question with the reference the scripted
    attacker gave it (remembered by `remember`), so every solve confirms; "" for a question it never saw."""

    def __init__(self) -> None:
        self.references: dict[str, str] = {}

    def remember(self, attack: dict[str, Any]) -> None:
        if isinstance(attack.get("question"), str):
            self.references[attack["question"]] = str(attack.get("reference_answer", ""))

    def solve(self, prompt: str) -> dict[str, Any]:
        """The solver's fields for the question in `prompt`, in words and as a program (DSPy reads the ones its
        signature has)."""
        answer = next((reference for question, reference in self.references.items() if question in prompt), "")
        return {"solution": "Work it out step by step.", "answer": answer, "program": f"print({answer!r})"}


def default_answers(counter: itertools.count) -> Answer:
    """Distinct, tool-checkable rounds: question n is about 3*n + 5 things; the defender always says 0, and the
    solver what the attacker said (`Oracle`)."""
    oracle = Oracle()

    def answer(role: str, prompt: str) -> dict[str, Any]:
        if role == "attacker":
            n = next(counter)
            attack = {"question": SCENES[n % len(SCENES)].format(n=n), "reference_answer": str(3 * n + 5),
                      "solution_steps": [f"{n} * 3 = {3 * n}", f"{3 * n} + 5 = {3 * n + 5}"],
                      "annotation": "Multiply before adding."}
            oracle.remember(attack)
            return attack
        if role == "defender":
            return {"reasoning": "I multiply, then add the extra ones.", "answer": "0"}
        if role == "solver":
            return oracle.solve(prompt)
        return {"scores": {"correctness": 4, "rigor": 4, "completeness": 4, "clarity": 4}, "verdict": "incorrect",
                "critique": "The total is wrong."}

    return answer


class ScriptedEngine:
    """Engine answering JSON for the role a request is for; thread-safe; counts its calls.

    Args:
        answer: (role, prompt) -> the role's output fields, for the attacker, defender and judge (default:
            `default_answers`).
        solver: (role, prompt) -> the solver's output fields (`solution` and `answer`, or `solution` and
            `program` when the solver writes programs); default: the reference the attacker's answer gave for
            the question in the prompt, which the engine remembers (`Oracle`), whatever `answer` is.
        latency: seconds each call sleeps.
    """

    supports_response_schema = True
    supported_params = frozenset({"temperature", "max_tokens", "response_format", "seed"})

    def __init__(self, answer: Answer | None = None, *, solver: Answer | None = None, latency: float = 0.0):
        self.answer = answer or default_answers(itertools.count())
        self.solver = solver
        self.latency = latency
        self.calls: list[str] = []
        self.oracle = Oracle()
        self._lock = threading.Lock()

    def complete(self, request: Any) -> Response:
        schema = (request.config.response_format or {}).get("schema", {})
        role = role_of(schema)
        prompt = request.messages[-1].text or ""
        with self._lock:
            self.calls.append(role)
            if role == "solver":
                payload = self.solver(role, prompt) if self.solver else self.oracle.solve(prompt)
            else:
                payload = self.answer(role, prompt)
                if role == "attacker":
                    self.oracle.remember(payload)
        if self.latency:
            time.sleep(self.latency)
        return Response(id=None, model="scripted", message=Message.assistant(json.dumps(payload)),
                        finish_reason="stop", usage=Usage(input_tokens=len(prompt) // 4, output_tokens=20))

    def stream(self, request: Any) -> Any:
        return response_to_events(self.complete(request))

    def close(self) -> None:
        pass


def scripted_lm(engine: ScriptedEngine | None = None, name: str = "scripted/a") -> dspy.LM:
    """A `dspy.LM` on the scripted engine, uncached and never retried."""
    return dspy.LM(name, engine=engine or ScriptedEngine(), cache=False, num_retries=0)


def scripted_roles(engine: ScriptedEngine | None = None, *, alternate: bool = False) -> RoleLMs:
    """The roles on one scripted engine (so its `calls` list every role's calls in order)."""
    engine = engine or ScriptedEngine()
    return RoleLMs(attacker=scripted_lm(engine, "scripted/a"), defender=scripted_lm(engine, "scripted/b"),
                   judge=scripted_lm(engine, "scripted/judge"), alternate=alternate,
                   solver=scripted_lm(engine, "scripted/solver"))
