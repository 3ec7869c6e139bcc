"""`nanoflux review`: a person goes through a run's examples in the browser and keeps, rejects or notes them.

A small stdlib HTTP server on 127.0.0.1 serves the run's report with review buttons per played round;
each button POSTs a decision, appended to `RUN_DIR/review.jsonl` (`nanoflux.engine.curation.decisions`).

Every request needs the session cookie, a random token another local user or a web page cannot
send: HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it) and scoped to a
random path, so another server on 127.0.0.1 is not sent it either. The token is never in a URL nor in
a command line (which `ps` shows every local user): a browser gets it by opening the sign-in page,
a file only its owner can read (0600 in a 0700 directory) that POSTs a one-time code to the server.
Each code signs in once and the file then holds the next one; what the browser's history keeps of
it, and the file's path the browser opener gets, sign nothing in. The dataset follows the review
when it is next exported (`curate`, or the run's own export).
"""

from __future__ import annotations

import html
import json
import os
import secrets
import shutil
import tempfile
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from nanoflux.base.errors import NanofluxError
from nanoflux.base.paths import RunDir
from nanoflux.engine.curation.decisions import DECISIONS, append_decision, read_review
from nanoflux.jobs.report.packing import CHARSET
from nanoflux.jobs.report.page import review_page
from nanoflux.jobs.stats import journal_records

HOST = "127.0.0.1"
MAX_BODY = 64 * 1024  # a decision and its note; anything larger is not one (413)
COOKIE = "nanoflux_review"
SIGN_IN = "review.html"  # the sign-in page's name in its private directory
TIMEOUT_S = 30  # a client that stops sending mid-request frees its thread after this


class ReviewServer(ThreadingHTTPServer):
    """Serves one run directory's review page at `url`; a browser signs in by opening `sign_in` (a file).

    Stop it with `shutdown()`, then `server_close()`, which also removes the sign-in page.
    """

    daemon_threads = True

    def __init__(self, run_dir: Path, port: int = 0):
        run = RunDir(run_dir)
        if not run.journal.exists():
            raise NanofluxError(f"{run_dir} has no {run.journal.name}; "
                                "pass a run directory made by `nanoflux compile` to review its examples")
        self.run = run
        self.token = secrets.token_urlsafe(24)  # the session: only ever in the cookie
        self.root = f"/{secrets.token_urlsafe(12)}/"  # the cookie's path: not sent to other servers on 127.0.0.1
        self.rounds = {record["round_id"] for record in journal_records(run_dir) if record["status"] == "ok"}
        self.lock = threading.Lock()  # one append (or one sign-in) at a time
        super().__init__((HOST, port), _Handler)
        self.sign_in = Path(tempfile.mkdtemp(prefix="nanoflux-review-")) / SIGN_IN  # mkdtemp: 0700
        self._code = ""
        self._next_code()

    @property
    def url(self) -> str:
        """The review page; it answers only a browser holding the session cookie."""
        return f"http://{HOST}:{self.server_address[1]}{self.root}"

    def redeem(self, code: str) -> bool:
        """Whether `code` is the current one-time code; if so, it is spent and the sign-in page gets the next."""
        with self.lock:
            if not (code and secrets.compare_digest(code.encode(), self._code.encode())):
                return False
            self._next_code()
            return True

    def _next_code(self) -> None:
        self._code = secrets.token_urlsafe(24)
        page = (f'<!doctype html><meta charset="utf-8"><title>NanoFlux review</title>'
                f'<form method="post" action="{html.escape(self.url)}session">'
                f'<input type="hidden" name="code" value="{self._code}">'
                "<button>Open the review</button></form><script>document.forms[0].submit()</script>\n")
        temporary = self.sign_in.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(page)
        os.replace(temporary, self.sign_in)  # a browser reading it never sees half a page

    def server_close(self) -> None:
        super().server_close()
        shutil.rmtree(self.sign_in.parent, ignore_errors=True)


class _Handler(BaseHTTPRequestHandler):
    server: ReviewServer
    timeout = TIMEOUT_S

    def do_GET(self) -> None:
        if (path := self._authorised()) is None:
            return
        if path != self.server.root:
            return self._send(HTTPStatus.NOT_FOUND, "text/plain", b"not found")
        review = {"decisions": read_review(self.server.run.review)}
        self._send(HTTPStatus.OK, f"text/html; charset={CHARSET}", review_page(self.server.run.root, review))

    def do_POST(self) -> None:
        if urlsplit(self.path).path == self.server.root + "session":
            return self._sign_in()
        if (path := self._authorised()) is None:
            return
        if path != self.server.root + "review":
            return self._send(HTTPStatus.NOT_FOUND, "text/plain", b"not found")
        if (body := self._body()) is None:
            return
        try:
            data = json.loads(body)
            round_id, decision, note = data["round_id"], data["decision"], str(data.get("note") or "")
        except (ValueError, TypeError, KeyError):
            return self._send(HTTPStatus.BAD_REQUEST, "text/plain", b"send {round_id, decision, note} as JSON")
        if decision not in DECISIONS or type(round_id) is not int or round_id not in self.server.rounds:
            return self._send(HTTPStatus.BAD_REQUEST, "text/plain",
                              f"decision is one of {', '.join(DECISIONS)}, round_id a played round".encode())
        with self.server.lock:
            row = append_decision(self.server.run.review, round_id, decision, note)
        self._send(HTTPStatus.OK, "application/json", json.dumps(row).encode())

    def _sign_in(self) -> None:
        """A one-time code (the sign-in page's form) for the session cookie, then on to the review page.

        A page of ours moves on (meta refresh), not a redirect: the browser sends a SameSite=Strict
        cookie only on a navigation a page of this site starts, and the sign-in page is a file.
        """
        if (body := self._body()) is None:
            return
        code = parse_qs(body.decode("latin-1")).get("code", [""])[0]
        if not self.server.redeem(code):
            return self._send(HTTPStatus.FORBIDDEN, "text/plain",
                              f"this sign-in was used already; open {self.server.sign_in} again".encode())
        page = (f'<!doctype html><link rel="icon" href="data:,"><meta http-equiv="refresh" '
                f'content="0; url={self.server.root}">signed in')
        cookie = f"{COOKIE}={self.server.token}; Path={self.server.root}; HttpOnly; SameSite=Strict"
        self._send(HTTPStatus.OK, "text/html; charset=utf-8", page.encode(), cookie=cookie)

    def _authorised(self) -> str | None:
        """The request's path when it carries the session cookie (and, if it says one, our origin); otherwise
        answers 403 and returns None."""
        cookies = (part.strip().partition("=") for part in self.headers.get("Cookie", "").split(";"))
        token = next((value for name, _, value in cookies if name == COOKIE), "")
        origin = self.headers.get("Origin")
        if not secrets.compare_digest(token.encode(), self.server.token.encode()) or \
                origin not in (None, f"http://{HOST}:{self.server.server_address[1]}"):
            self._send(HTTPStatus.FORBIDDEN, "text/plain",
                       f"forbidden: open {self.server.sign_in}, the page nanoflux review printed".encode())
            return None
        return urlsplit(self.path).path

    def _body(self) -> bytes | None:
        """The request's body, when its Content-Length is a number up to MAX_BODY; otherwise answers 400 or 413
        (reading nothing) and returns None."""
        length = self.headers.get("Content-Length", "")
        if not (length.isascii() and length.isdigit() and int(length) > 0):
            self._send(HTTPStatus.BAD_REQUEST, "text/plain", b"send a body with its Content-Length")
            return None
        if int(length) > MAX_BODY:
            self._send(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "text/plain", f"at most {MAX_BODY} bytes".encode())
            return None
        return self.rfile.read(int(length))

    def _send(self, status: HTTPStatus, kind: str, body: bytes, cookie: str | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        if cookie:
            self.send_header("Set-Cookie", cookie)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the terminal shows the sign-in page, not every click."""


def serve_review(run_dir: str | Path, *, port: int = 0, open_browser: bool = False) -> ReviewServer:
    """Start reviewing `run_dir` (serving in a background thread) and return the server; `port` 0 picks
    a free one. With `open_browser`, the default browser opens the sign-in page (its path is all the
    browser's command line holds).

    Example::

        server = serve_review("runs/math-demo")
        print(server.sign_in)   # open it in a browser ... review, then
        server.shutdown(); server.server_close()
    """
    server = ReviewServer(Path(run_dir), port)
    threading.Thread(target=server.serve_forever, name="nanoflux-review", daemon=True).start()
    if open_browser:
        import webbrowser

        webbrowser.open(server.sign_in.as_uri())
    return server
