"""Liveness and readiness."""

from __future__ import annotations

import asyncio

from litestar import Controller, Request, get

from api.problems import problem


class HealthController(Controller):
    path = "/health"
    tags = ["Betrieb"]

    @get("/live", operation_id="healthLive", summary="Der Dienst läuft")
    async def live(self) -> dict[str, str]:
        return {"status": "ok"}

    @get("/ready", operation_id="healthReady", summary="Datenbank und Suche sind erreichbar", responses=None)
    async def ready(self, request: Request) -> dict[str, object]:
        runtime = request.app.state.runtime
        failing: dict[str, str] = {}
        checks: dict[str, str] = {}
        try:
            await asyncio.wait_for(runtime.storage.ping(), timeout=3)
            checks["database"] = "ok"
        except Exception as exc:  # noqa: BLE001 - any failure means not ready
            failing["database"] = f"{type(exc).__name__}: {exc}"[:300]
        try:
            await asyncio.wait_for(runtime.search.health(), timeout=3)
            checks["search"] = "ok"
        except Exception as exc:  # noqa: BLE001
            failing["search"] = f"{type(exc).__name__}: {exc}"[:300]
        if failing:
            # the engine by name ("Suche (Meilisearch)"), so an operator knows which service to look at
            names = {"database": "Datenbank", "search": f"Suche ({str(runtime.search.name).capitalize()})"}
            raise _NotReady(", ".join(names[k] for k in failing), failing, checks)
        return {"status": "ok", "checks": checks}


class _NotReady(Exception):
    def __init__(self, names: str, failing: dict[str, str], checks: dict[str, str]) -> None:
        super().__init__(names)
        self.names = names
        self.failing = failing
        self.checks = checks


def handle_not_ready(request: Request, exc: _NotReady):  # noqa: ANN201
    return problem(
        503,
        f"Nicht bereit: {exc.names} nicht erreichbar.",
        type_slug="not-ready",
        instance=request.url.path,
        failing=exc.failing,
        checks=exc.checks,
    )


NOT_READY_HANDLERS = {_NotReady: handle_not_ready}
