"""The domain spec: its schema (pydantic models) and YAML loading with line numbers in errors.

A spec of a few lines is valid; every other field has a default. Each field's type, default and
bounds are its declaration, and its description the docstring under it, nowhere else:
`nanoflux.spec.doc` renders them as the spec reference page (docs/spec.md), and `nanoflux validate` quotes a
missing field's description.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic.fields import FieldInfo

from nanoflux.base.errors import MAX_PROBLEMS, QUOTE_CHARS, NanofluxError, quoted
from nanoflux.base.io import parse_yaml, read_yaml
from nanoflux.base.names import EMBEDDED_MODEL, EMBEDDING_MODEL, LOCAL_PREFIX
from nanoflux.base.scoring import Band, Complexity, Span
from nanoflux.verify.sandbox import DEFAULT_DISK_MB, Sandbox, SandboxMode

AnswerType = Literal["numeric", "expression", "choice", "text"]
OutputFormat = Literal["sft", "dpo", "rlvr", "stepwise", "revision"]
ReasoningSource = Literal["none", "defender", "attacker"]  # whose trace the exports carry (`output.reasoning`)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, use_attribute_docstrings=True)


def _temperature(default: float) -> Any:
    """The temperature field: each role has its own default, and a field redeclared in a subclass
    keeps no docstring, so its description is given here."""
    return Field(default, ge=0, le=2, description="sampling temperature")


class RoleSpec(_Strict):
    """One role's language model."""

    model: str = EMBEDDED_MODEL
    """the embedded model (llama.cpp on the CPU, no network, no key; `local/<file>.gguf` runs another GGUF
    file) or a litellm model string: `openai/gpt-4o-mini`, `anthropic/claude-sonnet-4-5`, `ollama_chat/qwen3`,
    `openai/<served name>` with `api_base`"""
    temperature: float = _temperature(0.7)
    max_tokens: int = Field(512, ge=16, le=32768)
    """the most tokens one call may generate"""
    api_base: str | None = None
    """URL of an OpenAI-compatible server (vLLM, llama.cpp, LM Studio)"""
    api_key_env: str | None = None
    """environment variable that holds the API key (null: the provider's usual one, e.g. `OPENAI_API_KEY`)"""
    structured_output: bool | None = None
    """declare that the model accepts JSON schemas (response_format json_schema) when litellm does not
    know it, as for a served model with `api_base`; null: ask litellm"""
    timeout: float = Field(120.0, gt=0)
    """seconds one LM call may wait on its server before it fails (a hung server then costs a round this
    long, not litellm's 600 s); API models only: the embedded model runs in-process and is not interrupted"""
    num_retries: int = Field(3, ge=0, le=10)
    """times a call that failed transiently (connection error, timeout, 5xx, 429) is retried, with
    exponential backoff or as long as a 429's Retry-After asks; API models only"""
    rpm: int | None = Field(None, ge=1)
    """requests per minute the model may receive (its provider's rate limit): calls are paced evenly to
    stay under it across all threads and Ray workers, instead of collecting 429s; roles on one model (and
    `api_base`) share one limit, the strictest they set (`nanoflux validate` prints it); null: no limit;
    `local/` models are never limited"""
    tpm: int | None = Field(None, ge=1)
    """tokens per minute (prompt plus completion) the model may take: each call books its prompt's
    estimated size plus `max_tokens` before it goes, and is corrected to the usage the server reports
    when it returns; shared like `rpm`; null: no limit"""
    reasoning_effort: Literal["low", "medium", "high"] | None = None
    """how hard a thinking model thinks before it answers (o-series, GPT-5, DeepSeek-R1, Qwen3, Claude), sent to
    the provider as `reasoning_effort`; null: the model's own default; not for `local/` models"""
    keep_reasoning: bool = True
    """journal the reasoning trace the model returns with its answer (its `reasoning_content`, or a
    `<think>...</think>` block it writes before the answer, which is cut off the answer either way), clipped
    to a size cap, in the round's `traces` (docs/thinking.md)"""

    @model_validator(mode="after")
    def _effort_needs_a_thinking_model(self) -> RoleSpec:
        if self.reasoning_effort and self.model.startswith(LOCAL_PREFIX):
            raise ValueError(f"{self.model} runs in-process and is not a thinking model, so it takes no "
                             "reasoning_effort: remove reasoning_effort, or point the role at a thinking model")
        return self


class AttackerRoleSpec(RoleSpec):
    """The attacker's language model; it samples hotter, to write varied questions."""

    temperature: float = _temperature(0.9)


class DefenderRoleSpec(RoleSpec):
    """The defender's language model."""

    temperature: float = _temperature(0.3)


class JudgeRoleSpec(RoleSpec):
    """The judge's language model, and whether it calls the spec's tools itself.

    The tools' deterministic checks run first either way and their verdict overrides the LM's.
    """

    temperature: float = _temperature(0.0)
    agentic: bool = False
    """grade with a tool-calling agent (`dspy.ReAct` over the judge signature, with the functions of the
    spec's `tools` as its tools), so the judge can recompute steps, run code or convert units before it
    scores; for capable models that follow tool-calling formats (small ones do better with one plain call)"""
    max_iters: int = Field(5, ge=1, le=20)
    """the most tool calls the agentic judge makes before it must score"""
    solves: int = Field(3, ge=0, le=16)
    """independent solves of each question by `roles.solver`, which sees neither the reference, the attacker's
    steps nor the defender's answer, each a fresh sample; the reference is confirmed when `agree` of them match
    it and no step of the attacker's is refuted, refuted when a step is or when `agree` of them agree on another
    answer (docs/judge.md); 0: the attacker's recomputed steps decide alone, which shows them consistent, not the
    method right (on GSM8K solutions by models: 46% of accepted references right, against 89% with 2 of 3 solves)"""
    agree: int = Field(2, ge=1, le=16)
    """how many solves must match the reference to confirm it (or agree on another answer to refute it, and at
    least 2 for that); at most `solves`"""
    solve_programs: bool = True
    """with `python` among the spec's `tools`, each solve is a program: the solver writes Python that prints the
    answer, run in the sandbox, and what it prints is the solve's answer (code and output are journaled); false,
    or without `python`, the solver answers in words"""
    revise: int = Field(0, ge=0, le=5)
    """how many more answers the defender may give after the judge finds one wrong: each time it is shown the
    tools' findings on its own answer and the judge's critique, never the reference (the reference's value is
    withheld wherever the critique writes it), answers again, and is judged like the first time, until an answer
    is right (docs/thinking.md, Revisions); curation decides on the first answer; 0: one answer"""

    @model_validator(mode="after")
    def _agree_within_solves(self) -> JudgeRoleSpec:
        if self.solves and self.agree > self.solves:
            raise ValueError(f"agree ({self.agree}) cannot exceed solves ({self.solves}): at most every solve can "
                             f"match the reference; lower agree or raise solves")
        return self


SOLVER_TEMPERATURE = 0.7  # the solver samples: each solve must be an independent answer, not one answer repeated


class SolverRoleSpec(RoleSpec):
    """The solver's language model: it solves each question afresh, without the reference, `roles.judge.solves`
    times, to confirm or refute the attacker's reference answer."""

    temperature: float = _temperature(SOLVER_TEMPERATURE)


class RolesSpec(_Strict):
    """The roles' models; a role given in part keeps its own defaults for the rest."""

    attacker: AttackerRoleSpec = Field(default_factory=AttackerRoleSpec)
    """writes hard multi-step questions with a reference answer and solution steps"""
    defender: DefenderRoleSpec = Field(default_factory=DefenderRoleSpec)
    """answers them with its reasoning"""
    judge: JudgeRoleSpec = Field(default_factory=JudgeRoleSpec)
    """scores the defender's reasoning on the rubric, after the tools' checks"""
    solver: SolverRoleSpec | None = None
    """solves each question without seeing the reference, `judge.solves` times, to confirm it; null: the judge's
    model settings, sampling at temperature 0.7 (each solve must be a fresh sample)"""
    alternate: bool = True
    """swap the attacker's and defender's models every other round"""

    def settings(self, role: str) -> RoleSpec:
        """One role's model settings by its name (`nanoflux.base.names.ROLES`), the solver's resolved."""
        if role == "solver":
            return self.solver_settings()
        return getattr(self, role)

    def solver_settings(self) -> SolverRoleSpec:
        """The solver's settings: its own, or the judge's model settings at the solver's temperature."""
        if self.solver is not None:
            return self.solver
        shared = self.judge.model_dump(include=set(RoleSpec.model_fields) - {"temperature"})
        return SolverRoleSpec(**shared)

    @model_validator(mode="after")
    def _solves_are_samples(self) -> RolesSpec:
        if self.judge.solves > 1 and self.solver_settings().temperature == 0:
            raise ValueError(f"the solver samples at temperature 0, so its {self.judge.solves} solves would be one "
                             "answer repeated, agreeing with itself; give roles.solver a temperature above 0 "
                             "(default 0.7) or set roles.judge.solves to 1")
        return self


class QuestionSpec(_Strict):
    """What questions the attacker writes."""

    hops: tuple[int, int] = (2, 4)
    """the range [min, max] of dependent reasoning steps a question chains, 1 <= min <= max <= 20
    (`3-5` or `3` also work)"""
    answer_type: AnswerType = "numeric"
    """how the judge's tools compare answers"""

    @field_validator("hops", mode="before")
    @classmethod
    def _hops_range(cls, value: Any) -> Any:
        if isinstance(value, int):
            return (value, value)
        if isinstance(value, str) and "-" in value:
            return tuple(part.strip() for part in value.split("-", 1))
        return value

    @model_validator(mode="after")
    def _hops_ordered(self) -> QuestionSpec:
        low, high = self.hops
        if not 1 <= low <= high <= 20:
            raise ValueError(f"hops must be [min, max] with 1 <= min <= max <= 20, got {list(self.hops)}")
        return self


class RubricDimension(_Strict):
    """One scored dimension of reasoning quality."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    """a short identifier, e.g. `correctness`"""
    weight: float = Field(1.0, gt=0)
    """its weight in the overall score (weights are normalised)"""
    description: str
    """what a 5 looks like, shown to the judge"""


DEFAULT_RUBRIC = [
    RubricDimension(name="correctness", weight=0.4, description="The final answer is right and every step is valid."),
    RubricDimension(name="rigor", weight=0.3,
                    description="Each step follows from the previous ones; nothing is assumed without reason."),
    RubricDimension(name="completeness", weight=0.2,
                    description="All hops of the question are addressed; no step is skipped."),
    RubricDimension(name="clarity", weight=0.1,
                    description="The reasoning is easy to follow and states its result plainly."),
]


class RubricSpec(_Strict):
    """The judge's rubric: named dimensions scored 1-5, combined by weight into the overall score.

    The overall score's level (`nanoflux.base.scoring`) is what a quality band selects on.
    """

    dimensions: list[RubricDimension] = Field(default_factory=lambda: list(DEFAULT_RUBRIC), min_length=1)
    """the scored dimensions, each named once"""

    @model_validator(mode="after")
    def _unique_names(self) -> RubricSpec:
        names = [d.name for d in self.dimensions]
        if len(set(names)) != len(names):
            raise ValueError(f"rubric dimension names must be unique, got {quoted(names)}")
        return self

    def weights(self) -> dict[str, float]:
        total = sum(d.weight for d in self.dimensions)
        return {d.name: d.weight / total for d in self.dimensions}


class BenchmarkFile(_Strict):
    """A benchmark file whose items no question may copy or paraphrase."""

    path: str = Field(min_length=1)
    """a local JSONL, JSON, CSV or Parquet file of the benchmark's items, one per line or row (relative to
    where nanoflux runs)"""
    field: str | None = None
    """the column holding each item's question; null: the first of `question`, `problem`, `prompt` the file
    has"""


class CurationSpec(_Strict):
    """Which rounds become dataset examples; `nanoflux curate` selects again with other values."""

    size: int = Field(200, ge=1)
    """target number of examples: the run stops once it has this many, and `nanoflux curate` keeps at
    most this many"""
    band: str = "L3-L5"
    """quality band: a level (`L4`), a level range (`L3-L5`) or a score range (`3.5-4.49`)"""
    novelty: float = Field(0.8, gt=0, le=1)
    """a question whose cosine similarity to an accepted one reaches this is a duplicate (lower is
    stricter); with all-MiniLM-L6-v2, paraphrases measured 0.70-0.95 and distinct questions on one topic
    0.20-0.79"""
    embedding_model: str = EMBEDDING_MODEL
    """sentence-transformers model for novelty (all-MiniLM-L6-v2 is packaged and works offline)"""
    require_verified_reference: bool = True
    """keep only questions whose reference answer is confirmed: `roles.judge.agree` independent solves match it
    and no step of the attacker's is refuted (with `roles.judge.solves: 0`, the tools recomputed its steps,
    `match`); false also keeps unconfirmed ones (e.g. text answers no tool could compare), never refuted ones"""
    hops: str | None = None
    """complexity band on the hops a round asked for: `2-4`, `3` or `3+`; null keeps any (the best
    complexity differs by domain)"""
    steps: str | None = None
    """complexity band on the number of solution steps the attacker wrote, same forms as `hops`"""
    length: str | None = None
    """complexity band on the length in words of the question plus its solution steps, e.g. `40-200` or
    `60+`"""
    against: list[str] = Field(default_factory=list)
    """other run directories whose accepted questions also count as seen, so this run avoids what earlier
    runs made (read, never written)"""
    decontaminate: list[BenchmarkFile] = Field(default_factory=list)
    """benchmarks you will report on: a question sharing a word 8-gram with one of their items (lowercased,
    punctuation and whitespace collapsed), or whose embedding reaches `decontaminate_threshold`, is rejected
    as `contaminated`; each a path, or `{path: ..., field: ...}` to name the question column"""
    decontaminate_threshold: float = Field(0.9, gt=0, le=1)
    """cosine similarity (embeddings of `embedding_model`) to a benchmark item at which a question is
    contaminated"""

    @field_validator("band")
    @classmethod
    def _band_parses(cls, value: str) -> str:
        try:
            Band.parse(value)
        except NanofluxError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("decontaminate", mode="before")
    @classmethod
    def _paths_are_files(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        return [{"path": item} if isinstance(item, str) else item for item in value]

    @field_validator("hops", "steps", "length", mode="before")
    @classmethod
    def _span_parses(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:
            return None
        try:
            return str(Span.parse(value, what=info.field_name or "range"))
        except NanofluxError as exc:
            raise ValueError(str(exc)) from None

    @property
    def quality_band(self) -> Band:
        return Band.parse(self.band)

    @property
    def complexity(self) -> Complexity:
        return Complexity.parse(hops=self.hops, steps=self.steps, length=self.length)


class OutputSpec(_Strict):
    """What the exporter writes."""

    formats: list[OutputFormat] = Field(default_factory=lambda: ["sft", "dpo"], min_length=1)
    """dataset files to write: `sft` = conversational messages, `dpo` = prompt/chosen/rejected pairs, `rlvr` =
    prompts with their verified answer and answer type for GRPO (`nanoflux.rewards`), `stepwise` = solution steps
    labelled by whether the tools recomputed them and they hold, for a process reward model, only in rounds whose
    reference is confirmed or refuted by a false step (which gives the wrong step), `revision` = multi-turn
    conversations of the defender's wrong answer, the feedback it was shown and its next answers, up to the one
    the tools verified right (only rounds the defender corrected, `roles.judge.revise`)"""
    license: str | None = None
    """the dataset's license as the Hugging Face Hub names it (`cc-by-4.0`, `apache-2.0`, `mit`, ...), written
    into the dataset card (`dataset/README.md`); null writes `other`, to be settled before publishing"""
    language: list[str] = Field(default_factory=lambda: ["en"], min_length=1)
    """the examples' languages as ISO 639-1 codes, for the dataset card"""
    include_annotation: bool = False
    """start the assistant's turn in `sft` rows and DPO `chosen` with the attacker's annotation (`Approach: ...`):
    off, a model trained on the rows learns the solution, not the question writer's note about it (which
    `examples.jsonl` keeps either way)"""
    reasoning: ReasoningSource = "none"
    """whose reasoning trace (a thinking model's, `roles.<role>.keep_reasoning`) the `sft` rows carry, as the
    assistant message's `reasoning_content` (the key TRL's chat templates for thinking models render): `attacker`,
    its trace beside the verified solution where the reference is confirmed; `defender`, the defender's own
    reasoning and answer with its trace, in rounds where the tools verified that answer right at the first attempt
    (and in `revision` rows, each answer's trace); `none`, no trace. Rounds without a trace keep their plain row"""


class ExecutionSpec(_Strict):
    """Where rounds run: threads in this process, or Ray actors on a cluster (the `ray` extra)."""

    executor: Literal["threads", "ray"] = "threads"
    """where rounds run: threads here, or Ray actors"""
    address: str | None = None
    """the Ray cluster: null starts a local Ray instance, `auto` joins the one `ray start --head` runs on
    this machine, `ray://HOST:10001` a remote one"""
    workers: int = Field(2, ge=1, le=4096)
    """Ray actors; each builds the program and its role LMs once"""
    max_concurrent_calls: int | None = Field(None, ge=1)
    """the most calls to one API model in flight across all Ray workers, to stay under its rate limit;
    null: no limit (`local/` models, which run inside each worker, are never limited)"""
    max_consecutive_failures: int = Field(5, ge=1)
    """the circuit breaker: after this many rounds in a row failed because an LM call failed (after its
    retries), or every round of a shorter run, the run stops taking rounds, writes its dataset and manifest,
    names the failing server, and `nanoflux compile` exits 1; `--resume` plays those rounds again once the
    server is back"""


class BudgetSpec(_Strict):
    """A cap on what a run spends, counted over the whole run (earlier sessions of a resumed run too) from
    the journal's per-role tokens, which count paid calls only (a cache hit costs nothing).

    The run stops taking rounds when the next one would likely pass a cap (at the mean cost of a round so
    far, counting the rounds in flight), finishes those in flight, and writes its dataset and manifest
    (`budget_stop` says why); `--resume` with a higher cap goes on.
    """

    max_cost: float | None = Field(None, gt=0)
    """the most USD the whole run may spend (earlier sessions of a resumed run included), at litellm's prices:
    when the next round would likely pass it (at the mean cost of a round so far), the run stops taking
    rounds, finishes those in flight and writes its dataset and manifest (`budget_stop`); `--resume` with a
    higher cap goes on. Embedded models cost 0; a model litellm cannot price is refused (cap tokens
    instead); null: no cap"""
    max_tokens: int | None = Field(None, ge=1)
    """the most tokens (input plus output, every role; a cache hit costs none) the whole run may spend, kept
    as `max_cost` is; null: no cap"""


class SeedExample(_Strict):
    """A hand-written round for `nanoflux optimize`, used when no earlier run's journal is given."""

    question: str = Field(min_length=1)
    """a question in the spec's domain, self-contained"""
    reference_answer: str = Field(min_length=1)
    """its final answer only, e.g. 42"""
    solution_steps: list[str] = Field(default_factory=list)
    """the steps from the givens to the answer, one calculation each (the judge's tools recompute them)"""
    topic: str | None = None
    """its focus area (null: the spec's topics in turn, or its name)"""
    hops: int | None = Field(None, ge=1, le=20)
    """its dependent reasoning steps (null: the number of solution steps, or the spec's least hops)"""
    annotation: str = ""
    """the skill it targets and the trap it sets"""


class Spec(_Strict):
    """A domain spec: the only input `nanoflux compile` needs."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    """identifier of the domain (letters, digits, `_.-`), used in run directory names"""
    description: str = Field(min_length=1)
    """the domain, in a few sentences; goes into every role's instructions"""
    topics: list[str] = Field(default_factory=list)
    """focus areas; the attacker rotates through them in a seeded order"""
    roles: RolesSpec = Field(default_factory=RolesSpec)
    questions: QuestionSpec = Field(default_factory=QuestionSpec)
    tools: list[str] = Field(default_factory=lambda: ["sympy"])
    """tools the judge uses, by their names in the tool registry (docs/judge.md, Tools); an unknown
    name fails validation with the list of known ones"""
    rubric: RubricSpec = Field(default_factory=RubricSpec)
    curation: CurationSpec = Field(default_factory=CurationSpec)
    output: OutputSpec = Field(default_factory=OutputSpec)
    rounds: int = Field(20, ge=1)
    """rounds to play"""
    seed: int = 0
    """seed of the topic order, each round's hops and `nanoflux curate`'s pick order"""
    threads: int | None = Field(None, ge=1, le=256)
    """rounds played at once; on Ray, per worker. null: 2 when a role plays on an embedded (`local/`) model, whose
    two llama.cpp contexts play two rounds side by side, else 1 (raise it for API models)"""
    execution: ExecutionSpec = Field(default_factory=ExecutionSpec)
    budget: BudgetSpec = Field(default_factory=BudgetSpec)
    examples: list[SeedExample] = Field(default_factory=list)
    """seed rounds `nanoflux optimize` tunes the prompts on when no earlier run is given with --trainset"""
    sandbox: SandboxMode = "isolated"
    """how the judge runs model-written code (the solution steps' python blocks, the `python` tool):
    `isolated` runs it under bubblewrap and treats it as undecidable where bubblewrap cannot start;
    `unsafe-local` runs it as a plain child process with your files and network, recorded in the manifest
    and shown in the report (docs/safety.md)"""
    sandbox_disk_mb: int = Field(DEFAULT_DISK_MB, ge=1, le=4096)
    """MiB of the size-capped tmpfs that is isolated code's working directory and its only writable place"""

    @field_validator("tools")
    @classmethod
    def _known_tools(cls, value: list[str]) -> list[str]:
        from nanoflux.tools.registry import get_tool

        for name in value:
            try:
                get_tool(name)
            except NanofluxError as exc:
                raise ValueError(str(exc)) from None
        return value

    def code_sandbox(self) -> Sandbox:
        """The sandbox the judge runs model-written code in, as this spec sets it."""
        return Sandbox(mode=self.sandbox, disk_mb=self.sandbox_disk_mb)

    @model_validator(mode="after")
    def _agentic_judge_has_tools(self) -> Spec:
        if self.roles.judge.agentic and not self.tools:
            raise ValueError("roles.judge.agentic needs at least one tool in `tools`, e.g. tools: [sympy, python]")
        return self

    @model_validator(mode="after")
    def _exports_that_could_be_written(self) -> Spec:
        """A format or trace the spec's own settings could never fill is refused, not written empty."""
        if "revision" in self.output.formats and not self.roles.judge.revise:
            raise ValueError("output.formats has `revision`, the defender's corrections, but roles.judge.revise is 0, "
                             "so the defender never revises: set roles.judge.revise (1 to 5), or remove `revision` "
                             "from output.formats")
        whose = self.output.reasoning
        if whose != "none" and not getattr(self.roles, whose).keep_reasoning:
            raise ValueError(f"output.reasoning is `{whose}`, but roles.{whose}.keep_reasoning is false, so no {whose} "
                             f"trace is kept to export: set roles.{whose}.keep_reasoning: true, or output.reasoning: "
                             "none")
        return self

    def digest(self) -> str:
        """A stable hash of what decides a round's content, recorded in manifests to trace examples.

        `rounds`, `threads`, `execution` and `budget` are left out: a run resumed with more rounds,
        threads, another executor or a higher cap is the same run; so are the seed `examples`, which
        only `nanoflux optimize` reads, and each role's `timeout`, `num_retries`, `rpm` and `tpm`, so a
        run stopped by a slow server can be resumed with more patience (or under another rate limit).
        `output.license` and `output.language` only label the dataset card, and `output.include_annotation`
        and `output.reasoning` only shape exported rows; `sandbox_disk_mb` is a
        resource limit like a timeout. `curation.decontaminate`
        counts once it names a benchmark; the solves (`roles.judge.solves`, `agree`, `solve_programs`,
        `roles.solver`) once there are any, so a run from before solves resumes with `solves: 0`;
        `roles.judge.revise` once it is above 0, so a run from before revisions resumes as it was, and a
        role's `reasoning_effort` once it is set and `keep_reasoning` once it is off, likewise for traces.
        """
        roles = {name: {"timeout", "num_retries", "rpm", "tpm"} for name, field in RolesSpec.model_fields.items()
                 if field.annotation is not bool}
        unrelated: dict[str, Any] = {"rounds": True, "threads": True, "execution": True, "budget": True,
                                     "examples": True, "sandbox_disk_mb": True, "roles": roles,
                                     "output": {"license", "language", "include_annotation", "reasoning"}}
        if not self.curation.decontaminate:  # so specs from before decontamination keep their digest
            unrelated["curation"] = {"decontaminate", "decontaminate_threshold"}
        if not self.roles.judge.solves:  # no solve: the rule before solves, and the digest specs had then
            roles["judge"] = roles["judge"] | {"solves", "agree", "solve_programs"}
            roles["solver"] = True
        if not self.roles.judge.revise:  # no revision: the digest specs had before revisions
            roles["judge"] = roles["judge"] | {"revise"}
        for name, excluded in roles.items():  # traces at their defaults: the digest specs had before traces
            if isinstance(excluded, set):
                settings = self.roles.settings(name)
                roles[name] = excluded | ({"reasoning_effort"} if settings.reasoning_effort is None else set()) \
                    | ({"keep_reasoning"} if settings.keep_reasoning else set())
        canonical = json.dumps(self.model_dump(mode="json", exclude=unrelated), sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


_FIX = "pass the path of a YAML spec such as specs/math.yaml"


def load_spec(path: str | Path) -> Spec:
    """Load and validate a spec file (a regular file, aliases bounded: `nanoflux.base.io.read_yaml`); raises
    NanofluxError naming the field, its line and the fix."""
    data, root = read_yaml(path, what="spec file", fix=_FIX)
    return _validate(data, root, str(path))


def parse_spec(text: str, *, source: str = "<spec>") -> Spec:
    """Validate a spec given as YAML text."""
    return _validate(*parse_yaml(text, source), source)


def _validate(data: Any, root: yaml.Node | None, source: str) -> Spec:
    if not isinstance(data, dict):
        raise NanofluxError(f"{source}: a spec is a YAML mapping with at least `name` and `description`, e.g.\n"
                            "  name: algebra\n  description: Multi-step algebra word problems.")
    try:
        return Spec.model_validate(data)
    except ValidationError as exc:
        raise NanofluxError(_describe(exc, root, source)) from None


def _describe(exc: ValidationError, root: yaml.Node | None, source: str) -> str:
    lines = [f"{source}: {exc.error_count()} problem(s) in the spec:"]
    for error in exc.errors()[:MAX_PROBLEMS]:
        loc = tuple(error["loc"])
        path = ".".join(str(part)[:QUOTE_CHARS] for part in loc) or "(top level)"
        line = _line_of(root, loc)
        where = f" (line {line})" if line else ""
        lines.append(f"  - {path}{where}: {_explain(error, loc)}")
    if exc.error_count() > MAX_PROBLEMS:
        lines.append(f"  ... and {exc.error_count() - MAX_PROBLEMS} more: fix these first")
    return "\n".join(lines)


def _explain(error: dict[str, Any], loc: tuple[Any, ...]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        known = list(_fields_at(loc[:-1]))
        guess = difflib.get_close_matches(str(loc[-1])[:QUOTE_CHARS], known, n=1)
        hint = f"did you mean `{guess[0]}`? " if guess else ""
        return f"unknown field; {hint}known fields here: {', '.join(known)}"
    if kind == "missing":
        field = _fields_at(loc[:-1]).get(str(loc[-1]))
        return "required field is missing; add it" + (f" ({describe(field)})" if field and field.description else "")
    message = error["msg"].removeprefix("Value error, ")
    if kind in {"literal_error", "enum"}:
        return f"{message}, got {quoted(error.get('input'))}"
    return f"{message} (got {quoted(error.get('input'))})" if kind.endswith(("_type", "_parsing")) else message


def _fields_at(loc: tuple[Any, ...]) -> dict[str, FieldInfo]:
    """The fields of the model found by following `loc` from the Spec (list indices pass through)."""
    model: type[BaseModel] | None = Spec
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part)) if model else None
        model = model_of(field.annotation) if field else None
    return model.model_fields if model else {}


def field_at(path: str) -> FieldInfo:
    """The spec's field at a dotted path as written in YAML, e.g. `curation.band`."""
    *parents, name = path.split(".")
    if (field := _fields_at(tuple(parents)).get(name)) is None:
        raise KeyError(f"the spec has no field {path!r}")
    return field


def describe(field: FieldInfo) -> str:
    """A field's description on one line (it is written as the docstring under the field)."""
    return " ".join((field.description or "").split())


def model_of(annotation: Any) -> type[BaseModel] | None:
    """The spec model an annotation holds: itself, or the item of a list or optional."""
    candidates = [annotation, *(getattr(annotation, "__args__", None) or ())]
    return next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """The 1-based YAML line of the node at `loc` (or of its nearest existing parent)."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == str(part)), None)
            if match is None:
                return line
            key, node = match
            line = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def apply_overrides(spec: Spec, *, rounds: int | None = None, threads: int | None = None,
                    models: Mapping[str, str] | None = None, execution: Mapping[str, Any] | None = None,
                    budget: Mapping[str, Any] | None = None) -> Spec:
    """The spec with CLI overrides applied, validated again as a whole."""
    data = spec.model_dump()
    data["execution"].update(execution or {})
    data["budget"].update(budget or {})
    if rounds is not None:
        data["rounds"] = rounds
    if threads is not None:
        data["threads"] = threads
    for role, model in (models or {}).items():
        if role not in type(spec.roles).model_fields:
            raise NanofluxError(f"unknown role {role!r} in --model; use attacker=MODEL, defender=MODEL, judge=MODEL "
                                "or solver=MODEL")
        data["roles"][role] = {**(data["roles"][role] or {}), "model": model}  # a solver given no settings: its own
    try:
        return Spec.model_validate(data)
    except ValidationError as exc:
        raise NanofluxError("; ".join(_describe_override(error) for error in exc.errors())) from None


def _describe_override(error: Mapping[str, Any]) -> str:
    """One line per invalid override, named as the user typed it: `--threads 1000: ...`."""
    loc = tuple(str(part) for part in error["loc"])
    option = {"rounds": "--rounds", "threads": "--threads", "roles": "--model", "address": "--address",
              "workers": "--workers", "executor": "--executor", "max_cost": "--max-cost", "max_tokens": "--max-tokens",
              }.get(loc[-1] if loc[0] in ("execution", "budget") else loc[0])
    option = option or ".".join(loc)
    message = error["msg"].removeprefix("Value error, ")
    return f"invalid {option} {quoted(error.get('input'))}: {message}"
