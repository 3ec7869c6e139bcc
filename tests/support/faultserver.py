"""A fault-injecting OpenAI-compatible server for tests: `/v1/chat/completions` on 127.0.0.1.

Each request gets the next planned behaviour (then the default one), so a test sets exactly how
the server fails and counts what the client sent:

    ok       200 with valid outputs for the role asking (the scripted answers of nanoflux.testing,
             chosen by the JSON schema the request carries: set `structured_output: true`)
    500      an internal server error
    429      a rate limit with `Retry-After: <retry_after>` seconds
    hang     no answer until the server stops (or `hang_limit` seconds pass): a hung backend
    garbage  200 with a completion whose content is not JSON: output that does not parse
    not_json 200 whose body is not JSON at all: a proxy's page, not a completion
    truncated
             200 whose body stops short of its Content-Length, and the connection closed
    drop     the connection closed without a response: a server dying mid-request
    die      as drop, and the server stops: every later connection is refused
    json_object
             500 naming json_object for a `json_schema` response format, as llama-cpp-python's
             server answers; ok for a `json_object` one

A thinking server (`thinking=`) answers `ok` as a thinking model does: "field" returns the trace as
the message's `reasoning_content` (vLLM's and DeepSeek's shape), counted as `reasoning_tokens` in the
completion tokens' details; "inline" writes it before the answer as `<think>...</think>` (a model served
raw); "raw" sends `thought` as the whole text, `{answer}` replaced by the answer (a malformed thinking model's
tags). The trace is `thought` with `{role}` filled in (or what `thought(role, prompt)` returns, for a trace of
each call's own; in "field" mode it may be any JSON value, as a broken server sends). Every request's body
is kept (`bodies`).

    with FaultServer(default="500") as server:
        compile_spec(parse_spec(fault_spec(server)), ...)
        assert server.count("500") == 3
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
from bisect import bisect_left
from collections import Counter, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from nanoflux.testing import Answer, default_answers, role_of
from tests.support.fakes import SCRIPTED_SPEC

THINKING = ("field", "inline")  # the well-formed modes; "raw" is for malformed ones
THOUGHT = "The {role} weighs the question step by step before it answers."
REASONING_TOKENS = 12  # of a thinking answer's 20 completion tokens
BEHAVIOURS = ("ok", "500", "429", "hang", "garbage", "not_json", "truncated", "drop", "die", "json_object")


# DSPy sends `openai/` models to an api_base through its own HTTP client, and providers it has no
# client for (`lm_studio/`) through litellm: both must honour the roles' timeout and retries.
CLIENTS = {"dspy": "openai/fault", "litellm": "lm_studio/fault"}


def fault_spec(server: FaultServer, *, timeout: float = 5, num_retries: int = 0, breaker: int = 3,
               model: str = CLIENTS["dspy"]) -> str:
    """The scripted spec (tests/support/fakes.py) with every role on `server`, and the given failure settings."""
    role = (f"{{model: {model}, api_base: '{server.api_base}', structured_output: true, "
            f"timeout: {timeout}, num_retries: {num_retries}}}")
    return (SCRIPTED_SPEC + f"roles: {{alternate: false, attacker: {role}, defender: {role}, judge: {role}}}\n"
            f"curation: {{band: L3-L5}}\nexecution: {{max_consecutive_failures: {breaker}}}\n")


# A server's `ok` answers report 10 prompt and 20 completion tokens a call: priced as gpt-4o-mini, a round's
# cost is known exactly (the budget and estimate tests).
CALLS_PER_ROUND = 3 + 3  # attacker, defender, judge and the default 3 solves
ROUND_TOKENS = CALLS_PER_ROUND * (10 + 20)
ROUND_USD = CALLS_PER_ROUND * (10 * 0.15e-6 + 20 * 0.60e-6)  # gpt-4o-mini at litellm's bundled prices
PRICED = "openai/gpt-4o-mini"


def priced_spec_text(server: FaultServer) -> str:
    """Every role on `server` as gpt-4o-mini, with a topic per round so that no prompt repeats: no call is
    answered from the cache, and every round costs the same."""
    topics = ", ".join(f"topic{i}" for i in range(20))
    return fault_spec(server, model=PRICED).replace("topics: [shelves, crates]", f"topics: [{topics}]")


class FaultServer:
    """A chat-completions server whose behaviour per request the test plans; counts every request.

    Args:
        default: what a request gets when the plan is empty.
        retry_after: seconds a 429 asks the client to wait.
        hang_limit: the longest a hung request is held (the test's bound, should the client never time out).
        answer: role outputs for `ok` (default: nanoflux.testing.default_answers, distinct valid rounds).
        thinking: None, or how `ok` answers carry a reasoning trace: "field", "inline" or "raw" (see the module).
        thought: the trace, `{role}` replaced by the role asking; or (role, prompt) -> the trace.
    """

    def __init__(self, default: str = "ok", *, retry_after: float = 1, hang_limit: float = 10.0,
                 answer: Answer | None = None, thinking: str | None = None,
                 thought: Any = THOUGHT):
        if thinking not in (None, *THINKING, "raw"):
            raise ValueError(f"unknown thinking mode {thinking!r}; known: {THINKING}")
        self.default = default
        self.thinking = thinking
        self.thought = thought
        self.retry_after = retry_after
        self.hang_limit = hang_limit
        self.answer = answer or default_answers(itertools.count())
        self.requests: list[tuple[str, str, float]] = []  # (behaviour, role, time received)
        self.bodies: list[dict[str, Any]] = []  # every request's JSON body, in the order received
        self._plan: deque[str] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._http.daemon_threads = True
        self._thread = threading.Thread(target=self._http.serve_forever, name="fault-server", daemon=True)

    @property
    def api_base(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host}:{port}/v1"

    def plan(self, *behaviours: str) -> None:
        """Answer the next requests with these behaviours, in order, then with `default`."""
        unknown = set(behaviours) - set(BEHAVIOURS)
        if unknown:
            raise ValueError(f"unknown behaviours {unknown}; known: {BEHAVIOURS}")
        with self._lock:
            self._plan.extend(behaviours)

    def count(self, behaviour: str | None = None) -> int:
        """Requests received (that got `behaviour`, if given)."""
        with self._lock:
            return sum(behaviour in (None, seen) for seen, _, _ in self.requests)

    def roles(self) -> Counter[str]:
        with self._lock:
            return Counter(role for _, role, _ in self.requests)

    def busiest(self, window: float) -> int:
        """The most requests received in any `window` seconds: what a provider's rate limit counts."""
        with self._lock:
            times = sorted(received for _, _, received in self.requests)
        return max((bisect_left(times, start + window) - i for i, start in enumerate(times)), default=0)

    def start(self) -> FaultServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release hung requests, stop serving and close the port (later connections are refused)."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _next(self, role: str, body: dict[str, Any]) -> str:
        with self._lock:
            behaviour = self._plan.popleft() if self._plan else self.default
            self.requests.append((behaviour, role, time.monotonic()))
            self.bodies.append(body)
            return behaviour

    def _thought(self, role: str, prompt: str) -> Any:
        if callable(self.thought):
            return self.thought(role, prompt)
        return self.thought.replace("{role}", role) if isinstance(self.thought, str) else self.thought

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # http.server's naming
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                role = role_of(_schema(body))
                behaviour = server._next(role, body)
                if behaviour == "json_object" and (body.get("response_format") or {}).get("type") == "json_schema":
                    self._send(500, {"error": {"message": "1 validation error for CreateChatCompletionRequest\n"
                                                          "response_format.type\n  Input should be 'text' or "
                                                          "'json_object'", "type": "internal_server_error"}})
                elif behaviour in ("ok", "json_object"):
                    with server._lock:
                        payload = server.answer(role, _last_text(body))
                    thought = server._thought(role, _last_text(body)) if server.thinking else None
                    self._send(200, _completion(body, json.dumps(payload), thought, server.thinking))
                elif behaviour == "garbage":
                    self._send(200, _completion(body, "Sure! The answer is probably 42, I think."))
                elif behaviour in ("not_json", "truncated"):
                    body = b"<html>upstream gone</html>" if behaviour == "not_json" else b'{"id": "chatcmpl-fa'
                    self._send_bytes(200, body, promised=len(body) + 100 * (behaviour == "truncated"))
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                elif behaviour == "500":
                    self._send(500, {"error": {"message": "injected failure", "type": "server_error"}})
                elif behaviour == "429":
                    self._send(429, {"error": {"message": "slow down", "type": "rate_limit_error"}},
                               {"Retry-After": f"{server.retry_after:g}"})
                elif behaviour == "hang":
                    server._stopping.wait(server.hang_limit)
                    self.close_connection = True
                else:  # drop, die
                    if behaviour == "die":
                        server.stop()  # before the client hears anything: its next connection is refused
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True

            def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                self._send_bytes(status, json.dumps(body).encode(), headers=headers)

            def _send_bytes(self, status: int, data: bytes, promised: int | None = None,
                            headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data) if promised is None else promised))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # http.server's signature
                """Quiet: pytest shows failures, not every request."""

        return Handler


def _schema(body: dict[str, Any]) -> dict[str, Any]:
    """The JSON schema of the outputs the request asks for (empty when it sends none)."""
    response_format = body.get("response_format") or {}
    return (response_format.get("json_schema") or {}).get("schema") or response_format.get("schema") or {}


def _last_text(body: dict[str, Any]) -> str:
    content = (body.get("messages") or [{}])[-1].get("content") or ""
    return content if isinstance(content, str) else "".join(part.get("text", "") for part in content)


def _completion(body: dict[str, Any], content: str, thought: Any = None,
                thinking: str | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    usage: dict[str, Any] = {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30}
    if thought is not None and thinking == "inline":
        message["content"] = f"<think>\n{thought}\n</think>\n\n{content}"
    elif thought is not None and thinking == "raw":
        message["content"] = thought.replace("{answer}", content)
    elif thought is not None:
        message["reasoning_content"] = thought
        usage["completion_tokens_details"] = {"reasoning_tokens": REASONING_TOKENS}
    return {"id": "chatcmpl-fault", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "fault"), "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": usage}
