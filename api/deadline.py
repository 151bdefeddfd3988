"""Every request has a deadline: past it the client gets 504 with a message instead of waiting on a
stuck worker. Batch endpoints also check the deadline between items (``check_deadline``) so the work
itself stops, not just the wait for it."""

from __future__ import annotations

import asyncio
import contextlib
import time

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from codefinder.api.early_response import reject
from codefinder.api.errors import DeadlineExceeded


def check_deadline(request: Request) -> None:
    """Raise DeadlineExceeded once the request's deadline (set by the middleware) has passed."""
    deadline = getattr(request.state, "deadline", None)
    if deadline is not None and time.monotonic() > deadline:
        raise DeadlineExceeded("the request ran past its deadline and was stopped; send fewer items per request")


# /suggest searches every item of a note of up to 20,000 characters: a batch too.
BATCH_PATHS = ("/search/batch", "/verify/batch", "/verify/csv", "/suggest")
ADMIN_PATHS = ("/admin/reload",)


class Deadline:
    """Answers 504 at the deadline without waiting for the handler: a sync handler's thread cannot be
    interrupted, so its task is left to finish on its own and whatever it sends afterwards is dropped.
    Batch endpoints get their own, longer deadline (and stop their work when it passes); so does a reload,
    which reads and checks a whole index and would otherwise answer 504 while it goes on to succeed."""

    def __init__(
        self, app: ASGIApp, seconds: float, batch_seconds: float | None = None, admin_seconds: float | None = None
    ) -> None:
        self.app = app
        self.default_seconds = seconds
        self.batch_seconds = seconds if batch_seconds is None else batch_seconds
        self.admin_seconds = seconds if admin_seconds is None else admin_seconds

    def seconds_for(self, path: str | None) -> float:
        if path in BATCH_PATHS:
            return self.batch_seconds
        if path in ADMIN_PATHS:
            return self.admin_seconds
        return self.default_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        seconds = self.seconds_for(scope.get("path"))
        if scope["type"] != "http" or seconds <= 0:
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})["deadline"] = time.monotonic() + seconds
        started = False
        expired = False

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if expired:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        task = asyncio.ensure_future(self.app(scope, receive, guarded_send))
        done, _ = await asyncio.wait({task}, timeout=seconds)
        if done:
            task.result()  # re-raise what the app raised
            return
        if started:  # the answer is already streaming: let it finish
            await task
            return
        expired = True
        task.cancel()
        task.add_done_callback(_swallow)
        await reject(scope, send, 504, f"no answer within the {seconds:g} s deadline; try again or narrow the request")


def _swallow(task: asyncio.Future) -> None:
    with contextlib.suppress(BaseException):
        task.result()
