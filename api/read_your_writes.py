"""Read-your-writes for every unsafe request (API and forms).

A write records an outbox entry; the sync worker puts it into the search
index, from which every list is read. So that an editor's next list shows
what they just saved, this middleware collects the outbox entries a POST,
PUT, PATCH or DELETE writes and, before the response starts, waits until
the index has them, for at most `catalogue.runtime.INDEX_WAIT_S` seconds (no
wait while the engine is down). The write stands either way.
"""

from __future__ import annotations

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from catalogue import outbox

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def read_your_writes(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method", "GET") in SAFE_METHODS:
            await app(scope, receive, send)
            return
        with outbox.recording() as written:

            async def send_after_index(message: Message) -> None:
                if message["type"] == "http.response.start" and written:
                    runtime = getattr(scope["app"].state, "runtime", None)
                    if runtime is not None:
                        await runtime.settle(list(written))
                    written.clear()
                await send(message)

            await app(scope, receive, send_after_index)

    return middleware
