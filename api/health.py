"""Liveness and readiness.

Ready means: the database answers, the search index answers, and the index
is being kept current – this process runs a live sync worker (it holds the
writer lease), or another process with a live lease does. The answer also
says which role this process has and how old the oldest change is that
waits for the index (all read by key).
"""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Controller, Request, get

from api.problems import problem

NAMES = {"database": "Datenbank", "search": "Suche", "sync": "Suchabgleich"}


class HealthController(Controller):
    path = "/health"
    tags = ["Betrieb"]

    @get("/live", operation_id="healthLive", summary="Der Dienst läuft")
    async def live(self) -> dict[str, str]:
        return {"status": "ok"}

    @get("/ready", operation_id="healthReady", summary="Datenbank, Suche und Suchabgleich arbeiten", responses=None)
    async def ready(self, request: Request) -> dict[str, object]:
        from catalogue.search.sync import outbox_status

        runtime = request.app.state.runtime
        failing: dict[str, str] = {}
        checks: dict[str, str] = {}
        details: dict[str, Any] = {}
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
        if "database" not in failing:
            try:
                details["outbox"] = await asyncio.wait_for(outbox_status(), timeout=3)
                if runtime.writer is not None:
                    status = await asyncio.wait_for(runtime.writer.status(), timeout=3)
                    details["sync"] = {
                        "role": status.role,
                        "worker": status.worker,
                        "restarts": status.restarts,
                        "last_failure": status.last_failure,
                        "lease_holder": status.lease_holder,
                        "lease_live": status.lease_live,
                    }
                    if status.healthy:
                        checks["sync"] = "ok"
                    elif status.role == "writer":
                        failing["sync"] = f"Der Suchabgleich dieses Prozesses ist ausgefallen ({status.last_failure}); er wird neu gestartet."
                    else:
                        failing["sync"] = "Kein Prozess hält den Suchabgleich (Schreibrecht abgelaufen)."
            except Exception as exc:  # noqa: BLE001
                failing["sync"] = f"{type(exc).__name__}: {exc}"[:300]
        if failing:
            # the engine by name ("Suche (Meilisearch)"), so an operator knows which service to look at
            names = {**NAMES, "search": f"Suche ({str(runtime.search.name).capitalize()})"}
            raise _NotReady(", ".join(names[k] for k in failing), failing, checks, details)
        return {"status": "ok", "checks": checks, **details}


class _NotReady(Exception):
    def __init__(self, names: str, failing: dict[str, str], checks: dict[str, str], details: dict[str, Any]) -> None:
        super().__init__(names)
        self.names = names
        self.failing = failing
        self.checks = checks
        self.details = details


def handle_not_ready(request: Request, exc: _NotReady):  # noqa: ANN201
    return problem(
        503,
        f"Nicht bereit: {exc.names} nicht verfügbar.",
        type_slug="not-ready",
        instance=request.url.path,
        failing=exc.failing,
        checks=exc.checks,
        **exc.details,
    )


NOT_READY_HANDLERS = {_NotReady: handle_not_ready}
