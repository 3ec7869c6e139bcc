"""`nanoflux review`: a person goes through a run's examples in the browser and keeps, rejects or notes them.

A small stdlib HTTP server on 127.0.0.1 serves the run's report with review buttons per played round;
each button POSTs a decision, appended to `RUN_DIR/review.jsonl` (`nanoflux.engine.curation.decisions`). A
random token in the URL guards every request, so another local user or a web page cannot write
decisions. The dataset follows the review when it is next exported (`curate`, or the run's own export).
"""

from __future__ import annotations

import json
import secrets
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from nanoflux.base.errors import NanofluxError
from nanoflux.base.paths import RunDir
from nanoflux.engine.curation.decisions import DECISIONS, append_decision, read_review
from nanoflux.jobs.report.page import review_page
from nanoflux.jobs.stats import journal_records

HOST = "127.0.0.1"
MAX_BODY = 64 * 1024  # a decision and its note; anything larger is not one


class ReviewServer(ThreadingHTTPServer):
    """Serves one run directory's review page; `url` holds the token. Stop it with `shutdown()`."""

    daemon_threads = True

    def __init__(self, run_dir: Path, port: int = 0):
        run = RunDir(run_dir)
        if not run.journal.exists():
            raise NanofluxError(f"{run_dir} has no {run.journal.name}; "
                                "pass a run directory made by `nanoflux compile` to review its examples")
        self.run = run
        self.token = secrets.token_urlsafe(24)
        self.rounds = {record["round_id"] for record in journal_records(run_dir) if record["status"] == "ok"}
        self.lock = threading.Lock()  # one append at a time, so concurrent clicks never interleave lines
        super().__init__((HOST, port), _Handler)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}/?token={self.token}"


class _Handler(BaseHTTPRequestHandler):
    server: ReviewServer

    def do_GET(self) -> None:
        if (path := self._authorised()) is None:
            return
        if path != "/":
            return self._send(HTTPStatus.NOT_FOUND, "text/plain", b"not found")
        review = {"token": self.server.token, "decisions": read_review(self.server.run.review)}
        self._send(HTTPStatus.OK, "text/html; charset=utf-8", review_page(self.server.run.root, review).encode())

    def do_POST(self) -> None:
        if (path := self._authorised()) is None:
            return
        if path != "/review":
            return self._send(HTTPStatus.NOT_FOUND, "text/plain", b"not found")
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 < length <= MAX_BODY:
            return self._send(HTTPStatus.BAD_REQUEST, "text/plain", b"a decision is a small JSON object")
        try:
            body = json.loads(self.rfile.read(length))
            round_id, decision, note = body["round_id"], body["decision"], str(body.get("note") or "")
        except (ValueError, TypeError, KeyError):
            return self._send(HTTPStatus.BAD_REQUEST, "text/plain", b"send {round_id, decision, note} as JSON")
        if decision not in DECISIONS or type(round_id) is not int or round_id not in self.server.rounds:
            return self._send(HTTPStatus.BAD_REQUEST, "text/plain",
                              f"decision is one of {', '.join(DECISIONS)}, round_id a played round".encode())
        with self.server.lock:
            row = append_decision(self.server.run.review, round_id, decision, note)
        self._send(HTTPStatus.OK, "application/json", json.dumps(row).encode())

    def _authorised(self) -> str | None:
        """The request's path when its token is right; otherwise answers 403 and returns None."""
        parts = urlsplit(self.path)
        token = parse_qs(parts.query).get("token", [""])[0]
        if not secrets.compare_digest(token.encode(), self.server.token.encode()):
            self._send(HTTPStatus.FORBIDDEN, "text/plain", b"forbidden: open the URL nanoflux review printed")
            return None
        return parts.path

    def _send(self, status: HTTPStatus, kind: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the terminal shows the URL, not every click."""


def serve_review(run_dir: str | Path, *, port: int = 0, open_browser: bool = False) -> ReviewServer:
    """Start reviewing `run_dir` (serving in a background thread) and return the server; `port` 0 picks
    a free one. With `open_browser`, the page opens in the default browser.

    Example::

        server = serve_review("runs/math-demo")
        print(server.url)   # ... review, then
        server.shutdown()
    """
    server = ReviewServer(Path(run_dir), port)
    threading.Thread(target=server.serve_forever, name="nanoflux-review", daemon=True).start()
    if open_browser:
        import webbrowser

        webbrowser.open(server.url)
    return server
