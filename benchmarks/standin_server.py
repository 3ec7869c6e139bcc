"""A stand-in OpenAI-compatible server of fixed latency, for throughput benchmarks: `/v1/chat/completions` on 127.0.0.1.

Every request waits `latency` seconds, then gets valid outputs for the role asking (the scripted
answers of nanoflux.testing, chosen by the JSON schema the request carries: give the roles
`structured_output: true`); every attacker request gets a question no earlier one got. One thread
per connection, with a listen backlog of 256, so 64 requests in flight wait side by side.
`GET /stats` says how many completions it served.

Run it in a process of its own (`serve`), so that its Python work does not share the benchmark's
interpreter lock:

    python benchmarks/standin_server.py --latency 2.0     # prints its api_base, serves until killed
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nanoflux.testing import default_answers, role_of


class StandInServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # 64 clients connecting at once must not overflow the listen backlog

    def __init__(self, latency: float):
        super().__init__(("127.0.0.1", 0), Handler)
        self.latency = latency
        self.answer = default_answers(itertools.count())
        self.served = 0
        self.lock = threading.Lock()

    @property
    def api_base(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/v1"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: a client's connection is reused, as with a real server
    server: StandInServer

    def do_POST(self) -> None:  # http.server's naming
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        response_format = body.get("response_format") or {}
        schema = (response_format.get("json_schema") or {}).get("schema") or response_format.get("schema") or {}
        role = role_of(schema)
        time.sleep(self.server.latency)
        with self.server.lock:
            payload = self.server.answer(role, "")
            self.server.served += 1
        self._send({"id": "chatcmpl-standin", "object": "chat.completion", "created": int(time.time()),
                    "model": body.get("model", "standin"),
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": json.dumps(payload)},
                                 "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30}})

    def do_GET(self) -> None:
        with self.server.lock:
            self._send({"served": self.server.served})

    def _send(self, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # http.server's signature
        """Quiet."""


def serve(latency: float) -> None:
    """Serve until killed; the first line on stdout is the api_base."""
    server = StandInServer(latency)
    print(server.api_base, flush=True)
    server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=2.0, help="seconds each request waits before its answer")
    serve(parser.parse_args().latency)


if __name__ == "__main__":
    main()
