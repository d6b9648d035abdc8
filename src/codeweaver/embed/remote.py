"""``OpenAIEmbedder``: any OpenAI-compatible ``/v1/embeddings`` endpoint over HTTP.

OpenAI, Ollama, LM Studio, vLLM, llama.cpp's server and Hugging Face TEI all answer
``POST {url}/embeddings`` with ``{"model": ..., "input": [...]}``. One :meth:`embed` call is cut
into requests of at most ``inputs_per_request`` texts and ``max_batch_tokens`` tokens, and up to
``max_in_flight`` of them run at once::

    embed(texts) ─▶ requests (count and token limits) ─▶ thread pool (max_in_flight) ─▶ POST
                                                         each: retry 429 / 5xx / timeout /
                                                         dropped connection with backoff

A 429 or 5xx answer, a timeout or a dropped connection is retried ``max_retries`` times, waiting
``retry_backoff_seconds`` and doubling (a ``Retry-After`` header is honoured); any other 4xx is
the input's or the configuration's fault and fails at once.
"""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from codeweaver.config.embedding import DEFAULT_MODELS
from codeweaver.core.errors import EmbeddingError
from codeweaver.embed.base import Embedder
from codeweaver.embed.tokens import HFTokenCounter, load_tokenizer

__all__ = ["OpenAIEmbedder"]

OPENAI_URL = "https://api.openai.com/v1"
MAX_BACKOFF_SECONDS = 60.0


class OpenAIEmbedder(Embedder):
    """An embedder that calls an OpenAI-compatible HTTP endpoint.

    ``api_key`` defaults to the environment variable ``api_key_env`` (sent as a bearer token when
    set; local servers need none). ``dimensions`` is sent to the endpoint when given; otherwise
    the dimension is learnt from the first answer. Tokens are counted with ``tokenizer`` (a
    ``tokenizer.json``, folder or hub name) when given, else estimated at ``chars_per_token``.

    Example:
        >>> ollama = "http://localhost:11434/v1"
        >>> emb = OpenAIEmbedder("nomic-embed-text", url=ollama)  # doctest: +SKIP
        >>> emb.embed(["def add(a, b): return a + b"]).shape  # doctest: +SKIP
        (1, 768)
    """

    provider = "openai"

    def __init__(
        self,
        model: str = DEFAULT_MODELS["openai"],
        *,
        url: str | None = None,
        api_key: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        dimensions: int | None = None,
        max_input_tokens: int | None = None,
        inputs_per_request: int = 64,
        max_in_flight: int = 4,
        max_batch_tokens: int = 16_384,
        max_retries: int = 5,
        retry_backoff_seconds: float = 0.5,
        timeout_seconds: float = 60.0,
        tokenizer: str | None = None,
        chars_per_token: float = 3.0,
        query_prefix: str = "",
        document_prefix: str = "",
    ) -> None:
        try:
            import httpx
        except ImportError:
            raise EmbeddingError(
                "HTTP embeddings need the embed extra: pip install 'codeweaver[embed]'"
            ) from None
        base = (url or OPENAI_URL).rstrip("/")
        self.endpoint = base if base.endswith("/embeddings") else base + "/embeddings"
        key = api_key if api_key is not None else os.environ.get(api_key_env)
        if not key and base.startswith(OPENAI_URL):
            raise EmbeddingError(
                f"OpenAI embeddings need an API key: set the environment variable {api_key_env}"
            )
        counter = None
        if tokenizer is not None:
            counter = HFTokenCounter(load_tokenizer(tokenizer), tokenizer)
        if max_input_tokens is None:
            max_input_tokens = 8191 if model.startswith("text-embedding-") else 512
        super().__init__(
            model,
            batch_size=inputs_per_request * max_in_flight,
            max_input_tokens=max_input_tokens,
            token_counter=counter,
            chars_per_token=chars_per_token,
            query_prefix=query_prefix,
            document_prefix=document_prefix,
        )
        self.api_key_env = api_key_env
        self.inputs_per_request = inputs_per_request
        self.max_in_flight = max_in_flight
        self.max_batch_tokens = max_batch_tokens
        self.max_retries = max_retries
        self.retry_backoff_seconds = retry_backoff_seconds
        self.timeout_seconds = timeout_seconds
        self.requested_dimensions = dimensions
        self._dimension = dimensions
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.Client(
            headers=headers,
            timeout=timeout_seconds,
            limits=httpx.Limits(max_connections=max_in_flight),
        )
        self._pool: ThreadPoolExecutor | None = None
        self._closed = threading.Event()
        self.requests_sent = 0
        """Every POST attempt, retries included (for tests and benchmarks)."""

    @property
    def name(self) -> str:
        name = super().name
        return name + (f";dims={self.requested_dimensions}" if self.requested_dimensions else "")

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self._dimension = int(self._post(["dimension probe"]).shape[1])
        return self._dimension

    def close(self) -> None:
        self._closed.set()  # wakes any backoff wait
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()

    # -- embedding -------------------------------------------------------------------------------
    def _embed(self, texts: list[str]) -> np.ndarray[Any, Any]:
        groups = self._requests(texts)
        if len(groups) == 1:
            parts = [self._post(groups[0])]
        else:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.max_in_flight, "codeweaver-embed-http")
            parts = list(self._pool.map(self._post, groups))
        out = np.concatenate(parts, axis=0)
        if self._dimension is None:
            self._dimension = int(out.shape[1])
        return out

    def _requests(self, texts: Sequence[str]) -> list[list[str]]:
        """Cut ``texts`` into requests under the count and token limits (order kept)."""
        groups: list[list[str]] = []
        current: list[str] = []
        tokens = 0
        for text in texts:
            n = self.count_tokens(text) + 2
            if current and (
                len(current) >= self.inputs_per_request or tokens + n > self.max_batch_tokens
            ):
                groups.append(current)
                current, tokens = [], 0
            current.append(text)
            tokens += n
        if current:
            groups.append(current)
        return groups

    def _post(self, texts: list[str]) -> np.ndarray[Any, Any]:
        import httpx

        payload: dict[str, Any] = {"model": self.model, "input": texts}
        if self.requested_dimensions is not None:
            payload["dimensions"] = self.requested_dimensions
        delay = self.retry_backoff_seconds
        problem = ""
        for attempt in range(self.max_retries + 1):
            if self._closed.is_set():
                raise EmbeddingError(f"{self.endpoint}: the embedder was closed", transient=True)
            wait = delay
            self.requests_sent += 1
            try:
                response = self._client.post(self.endpoint, json=payload)
            except httpx.TimeoutException:
                problem = f"no answer within {self.timeout_seconds:g}s"
            except httpx.TransportError as exc:  # refused, reset, dropped mid-answer
                problem = f"connection failed ({type(exc).__name__}: {exc})"
            else:
                code = response.status_code
                if code == 200:
                    parsed = _parse(response, len(texts))
                    if isinstance(parsed, np.ndarray):
                        return parsed
                    problem = parsed
                elif code == 429 or code >= 500:
                    problem = f"HTTP {code}: {_message(response)}"
                    wait = max(delay, _retry_after(response))
                else:
                    raise EmbeddingError(
                        f"{self.endpoint} refused {len(texts)} input(s) with HTTP {code}: "
                        f"{_message(response)}"
                    )
            if attempt < self.max_retries:
                # Full jitter on the upper half: concurrent requests do not retry in lockstep.
                pause = min(wait, MAX_BACKOFF_SECONDS) * (0.5 + random.random() / 2)
                self._closed.wait(pause)
                delay *= 2
        raise EmbeddingError(
            f"{self.endpoint}: {problem} (gave up after {self.max_retries + 1} attempts)",
            transient=True,
        )


def _parse(response: Any, n: int) -> np.ndarray[Any, Any] | str:
    """The vectors of a 200 answer, in input order, or what is wrong with it."""
    try:
        data = response.json()["data"]
        rows = sorted(data, key=lambda item: int(item.get("index", 0)))
        out = np.asarray([row["embedding"] for row in rows], dtype=np.float32)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return f"malformed answer ({type(exc).__name__}: {exc})"
    if out.ndim != 2 or out.shape[0] != n:
        return f"malformed answer: {out.shape[0] if out.ndim else 0} vectors for {n} inputs"
    return out


def _message(response: Any) -> str:
    try:
        body = response.json()
        err = body.get("error", body) if isinstance(body, dict) else body
        text = err.get("message", str(err)) if isinstance(err, dict) else str(err)
    except ValueError:
        text = response.text
    text = " ".join(str(text).split())
    return text[:200] or response.reason_phrase


def _retry_after(response: Any) -> float:
    try:
        return max(0.0, float(response.headers.get("retry-after", 0)))
    except ValueError:
        return 0.0
