"""What a run will cost before it is paid for: play a few rounds (or read a run's journal) and scale up.

The sample rounds are played with a cache of their own, so no call is answered from an earlier
run's cache: their tokens are what rounds of this spec cost. The figures are means per round of
the journal's per-role tokens, priced by `nanoflux.clients.pricing`, times the rounds of the whole run.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nanoflux.base.errors import NanofluxError
from nanoflux.base.paths import JOURNAL_NAME, SPEC_NAME, RunDir
from nanoflux.clients.pricing import Spend, dollars
from nanoflux.engine.budget import compact, expected_rounds
from nanoflux.engine.journal import is_accepted, last_attempts, read_journal
from nanoflux.jobs.compile import compile_spec
from nanoflux.modules import RoleLMs
from nanoflux.spec.model import Spec, apply_overrides, load_spec

SAMPLE_ROUNDS = 3  # rounds `estimate` plays to measure a spec


@dataclass
class Estimate:
    """Tokens and cost per round, measured on `measured` journaled rounds of `run_dir`, and for `rounds`.

    `kept`: whether `run_dir` outlives the estimate (a run directory read, or `out`); the rounds
    played into a temporary one are deleted with it.
    """

    run_dir: Path
    spec: Spec
    spend: Spend
    measured: int
    accepted: int
    rounds: int
    kept: bool

    def tokens(self, role: str | None = None, kind: str | None = None) -> float:
        """Mean tokens per round (of `role`, of `kind` "input" or "output"; all: None)."""
        return self.spend.token_count(role, kind) / self.measured

    def thinking(self, role: str | None = None) -> float:
        """Mean thinking tokens per round (of `role`; all: None), already among the output tokens."""
        return self.spend.reasoning_count(role) / self.measured

    def to_dict(self) -> dict[str, Any]:
        """The estimate as JSON-ready data: per role and in all, per round and for `rounds` (USD None: no
        price known)."""
        def usd(role: str | None, scale: float) -> float | None:
            value = self.spend.usd(role)
            return None if value is None else round(value * scale, 8)

        per_round, whole = 1 / self.measured, self.rounds / self.measured
        rows = {role: {"models": self.spend.models(role), "input_tokens": self.tokens(role, "input"),
                       "output_tokens": self.tokens(role, "output"), "reasoning_tokens": self.thinking(role),
                       "usd": usd(role, per_round),
                       "run_usd": usd(role, whole)} for role in self.spend.roles()}
        return {"run_dir": str(self.run_dir), "measured_rounds": self.measured, "rounds": self.rounds,
                "roles": rows, "tokens_per_round": self.tokens(), "run_tokens": round(self.tokens() * self.rounds),
                "usd_per_round": usd(None, per_round), "run_usd": usd(None, whole),
                "unpriced": self.spend.unpriced()}

    def render(self) -> str:
        """The estimate as a table for the terminal."""
        per_round, whole = 1 / self.measured, self.rounds / self.measured
        where = str(self.run_dir) if self.kept else "a temporary run directory (deleted)"
        lines = [f"Estimate from {self.measured} rounds in {where}, for a run of {self.rounds:,} rounds:", ""]
        roles = [*self.spend.roles(), None]
        width = max(len("models"), *(len(", ".join(self.spend.models(role))) for role in self.spend.roles()))
        lines.append(f"{'role':<8}  {'models':<{width}}  {'tokens/round (in + out)':>23}  {'USD/round':>14}  "
                     f"{f'USD for {self.rounds:,} rounds':>20}")
        for role in roles:
            tokens = f"{self.tokens(role, 'input'):,.0f} + {self.tokens(role, 'output'):,.0f}"
            lines.append(f"{role or 'total':<8}  {', '.join(self.spend.models(role)) if role else '':<{width}}  "
                         f"{tokens:>23}  {self.spend.label(role, scale=per_round):>14}  "
                         f"{self.spend.label(role, scale=whole):>20}")
        if self.thinking():
            roles = ", ".join(f"{role} {self.thinking(role):,.0f}"
                              for role in self.spend.roles() if self.thinking(role))
            lines += ["", f"Thinking tokens/round, among the output tokens and priced with them: {roles} "
                          f"(total {self.thinking():,.0f})."]
        lines += ["", f"Tokens for {self.rounds:,} rounds: {compact(self.tokens() * self.rounds)}."]
        size = self.spec.curation.size
        fills = expected_rounds(played=self.measured, accepted=self.accepted, planned=self.rounds, size=size)
        if self.accepted and fills < self.rounds:
            lines.append(f"At these rounds' acceptance rate ({self.accepted} of {self.measured}), curation.size "
                         f"{size} fills after about {fills:,} rounds, where the run stops: "
                         f"{self.spend.label(scale=fills / self.measured)}.")
        lines += self._budget_lines()
        return "\n".join(lines)

    def _budget_lines(self) -> list[str]:
        budget, lines = self.spec.budget, []
        usd = self.spend.usd()
        if budget.max_cost is not None and usd:
            lines.append(f"budget.max_cost {dollars(budget.max_cost)} allows about "
                         f"{math.floor(budget.max_cost * self.measured / usd):,} rounds.")
        if budget.max_tokens is not None and self.tokens():
            lines.append(f"budget.max_tokens {budget.max_tokens:,} allows about "
                         f"{math.floor(budget.max_tokens / self.tokens()):,} rounds.")
        return lines


def estimate_cost(source: str | Path, *, rounds: int | None = None, out: str | Path | None = None,
             models: Mapping[str, str] | None = None, lms: RoleLMs | Callable[[Spec], RoleLMs] | None = None,
             progress: bool = False) -> Estimate:
    """Estimate the tokens and cost of a run, per role and in all.

    Args:
        source: a spec file, whose first `SAMPLE_ROUNDS` rounds are played (with a cache of their own) to
            measure it; or a run directory, whose journal is measured (every attempt: each was paid for).
        rounds: the run to price (default: the spec's `rounds`).
        out: play the sample rounds into this run directory and keep it (`compile --resume` continues it
            into the real run); default: a temporary one, deleted after. Spec only.
        models: role -> model overrides, as for `compile_spec`. Spec only.
        lms: role LMs instead of the spec's models (tests, custom backends), as for `compile_spec`. Spec only.
    """
    source = Path(source)
    if not source.exists():
        raise NanofluxError(f"{source} does not exist; pass a spec file (e.g. specs/math.yaml) or a run directory "
                            "made by `nanoflux compile`")
    if source.is_dir():
        if out is not None or models or lms is not None:
            raise NanofluxError(f"{source} is a run directory, whose journal is read as it is; --out and --model "
                                "are for a spec, whose rounds are played")
        return measure(source, rounds=rounds, kept=True)
    spec = apply_overrides(load_spec(source), models=models)
    if out is not None and read_journal(RunDir(Path(out)).journal):
        raise NanofluxError(f"{out} already holds a run: estimate it with `nanoflux estimate {out}`, or pass another "
                            "--out")
    with tempfile.TemporaryDirectory(prefix="nanoflux-estimate-") as scratch:
        run_dir = Path(out) if out is not None else Path(scratch) / "run"
        compile_spec(spec, out=run_dir, rounds=SAMPLE_ROUNDS, lms=lms, cache_dir=Path(scratch) / "cache",
                     progress=progress)
        return measure(run_dir, rounds=rounds or spec.rounds, kept=out is not None)


def measure(run_dir: Path, *, rounds: int | None = None, kept: bool = True) -> Estimate:
    """The estimate from a run directory's journal: every attempt's per-role tokens (paid calls only)."""
    run = RunDir(run_dir)
    if not run.journal.is_file() or not run.spec.is_file():
        missing = JOURNAL_NAME if not run.journal.is_file() else SPEC_NAME
        raise NanofluxError(f"{run_dir} has no {missing}; pass a run directory made by `nanoflux compile`, or a spec")
    try:
        spec = Spec.model_validate(json.loads(run.spec.read_text()))
    except ValueError as exc:  # not JSON, or not a spec (pydantic's ValidationError is a ValueError)
        raise NanofluxError(f"{run.spec} is not a spec NanoFlux wrote ({type(exc).__name__}); pass a run directory "
                            "made by `nanoflux compile`") from None
    attempts = read_journal(run.journal)
    spend = Spend.of(attempts)
    if not spend.token_count():
        raise NanofluxError(f"no round in {run_dir} spent a token ({len(attempts)} journaled: each failed, or was "
                            "answered from the cache), so there is nothing to scale up; estimate the spec instead")
    accepted = sum(map(is_accepted, last_attempts(attempts)))
    return Estimate(run_dir, spec, spend, measured=len(attempts), accepted=accepted, rounds=rounds or spec.rounds,
                    kept=kept)
