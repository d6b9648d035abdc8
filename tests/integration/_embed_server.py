"""A real OpenAI-compatible ``/v1/embeddings`` server on 127.0.0.1 for tests, answering from the
local all-MiniLM-L6-v2 model, with scripted misbehaviour (429, 500, slow answers, dropped
connections, refused inputs) and a record of every request it saw."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class EmbeddingServer:
    """``with EmbeddingServer(model) as server: server.url`` -> ``http://127.0.0.1:PORT/v1``.

    ``script`` holds what the next requests get, one entry each: ``"429"``, ``"500"``,
    ``"slow"`` (answers after ``slow_seconds``), ``"drop"`` (closes the connection without an
    answer), ``"bad-json"``; when it is empty requests are answered normally.
    ``refuse_marker``: a request holding an input that contains it gets HTTP 400.
    ``delay``: seconds every answer waits (to keep a run busy).
    """

    def __init__(self, embedder: Any) -> None:
        self.embedder = embedder
        self.script: deque[str] = deque()
        self.refuse_marker: str | None = None
        self.fail_all_with: int | None = None
        self.delay = 0.0
        self.slow_seconds = 2.0
        self.requests: list[list[str]] = []
        self.answered: list[list[str]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._model_lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> EmbeddingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def embedded_texts(self) -> list[str]:
        """Every input the server answered with vectors, in order."""
        with self._lock:
            return [t for batch in self.answered for t in batch]

    def _answer(self, texts: list[str]) -> bytes:
        with self._model_lock:  # one model, many handler threads
            vectors = self.embedder.embed(texts)
        data = [
            {"object": "embedding", "index": i, "embedding": [float(x) for x in row]}
            for i, row in enumerate(vectors)
        ]
        data.reverse()  # the answer's order is the "index" field's job, not the list's
        return json.dumps({"object": "list", "data": data, "model": "test"}).encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet test output
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                texts = list(json.loads(body)["input"])
                with server._lock:
                    server.requests.append(texts)
                    action = server.script.popleft() if server.script else "ok"
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                self._counted = True
                try:
                    self._serve(action, texts)
                finally:
                    self._done()

            def _done(self) -> None:
                # Before the answer goes out: once the client has it, it may send the next.
                if self._counted:
                    self._counted = False
                    with server._lock:
                        server.in_flight -= 1

            def _serve(self, action: str, texts: list[str]) -> None:
                time.sleep(server.delay)
                if action == "drop":
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(2)
                    return
                if action == "slow":
                    time.sleep(server.slow_seconds)
                if action in ("429", "500") or server.fail_all_with:
                    code = server.fail_all_with or int(action)
                    self._send(
                        code, b'{"error": {"message": "try again later"}}', {"Retry-After": "0"}
                    )
                    return
                if server.refuse_marker and any(server.refuse_marker in t for t in texts):
                    self._send(400, b'{"error": {"message": "input rejected"}}')
                    return
                if action == "bad-json":
                    self._send(200, b"<html>proxy error</html>")
                    return
                payload = server._answer(texts)
                with server._lock:
                    server.answered.append(texts)
                self._send(200, payload)

            def _send(self, code: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                self._done()
                with contextlib.suppress(OSError):  # the client may have given up (slow)
                    self.send_response(code)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(body)))
                    for key, value in (headers or {}).items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(body)

        return Handler
