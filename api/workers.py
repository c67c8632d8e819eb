"""`leuchtturm serve --workers N`: several serving processes on one listening socket.

One event loop is the limit of a single process (issue 10); N processes use
N cores. The supervisor (the `leuchtturm serve` process) checks the settings
and the port, starts the embedded FerretDB once (or finds the running one
through DATA_DIR/ferretdb.json, as every CLI command does), binds the socket
and runs uvicorn's multiprocess supervisor with `worker_app` as the app
factory: each worker builds its own app and finds FerretDB through the
state file. The first worker starts alone (start-up data, an index rebuild
run once), the others once it serves. A worker that dies is started again;
SIGTERM or SIGINT stops the workers, then FerretDB goes with the supervisor.

Exactly one process runs the search sync worker (the sync lease,
catalogue/search/writer.py); the others serve reads and write to the store
and outbox, and wait for the worker's commits for read-your-writes
(`Runtime.settle`). Callers one process forgets are forgotten by all
(catalogue/shared_generation.py).
"""

from __future__ import annotations

import logging
import os
import time
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from litestar import Litestar

    from catalogue.settings import Settings

MAX_DEFAULT_WORKERS = 4
SUPERVISOR_ENV = "LEUCHTTURM_SUPERVISOR_PID"  # set by the supervisor for its workers (not a setting)
FIRST_WORKER_TIMEOUT_S = 3600.0  # the first start may load the register and rebuild the index
# A worker that does not answer the supervisor's ping (a thread of its own) this long is killed as hung and started
# again; a dead one is seen at once. Long, so that work holding the interpreter a while (a large index commit
# inside the engine's library) is not taken for a hang.
HEALTHCHECK_TIMEOUT_S = 60
STOP_TIMEOUT_S = 30.0  # a stopped worker's shutdown (lease given up, writer closed) gets this long, then it is killed


def worker_count(settings: Settings) -> int:
    """LEUCHTTURM_WORKERS, else one per core up to MAX_DEFAULT_WORKERS."""
    return settings.workers or max(1, min(os.cpu_count() or 1, MAX_DEFAULT_WORKERS))


def worker_app() -> Litestar:
    """The app of one serving process (uvicorn's factory; settings from the environment the supervisor set)."""
    from api.app import create_app
    from api.startup import QuietStartup
    from catalogue.embedded import bind_to_parent
    from catalogue.settings import get_settings

    supervisor = int(os.environ.get(SUPERVISOR_ENV, "0"))
    bind_to_parent()  # a supervisor killed outright (SIGKILL) takes its workers along, as it takes FerretDB
    if supervisor and os.getppid() != supervisor:
        raise SystemExit(1)  # it died before this process was bound to it
    try:
        app = create_app(get_settings(), tune_gc=True)
    except Exception as exc:  # one German line; exit code 3 stops the supervisor instead of a restart loop
        from uvicorn.config import STARTUP_FAILURE

        from api.startup import startup_message

        click.echo(f"Fehler: {startup_message(exc)}", err=True)
        raise SystemExit(STARTUP_FAILURE) from exc

    class StartupReport(QuietStartup):
        """QuietStartup, and the one German line when this worker's start fails (the supervisor exits with 3)."""

        def filter(self, record: logging.LogRecord) -> bool:
            if not self.started and "Application startup failed" in record.getMessage():
                message = getattr(app.state, "startup_error", None) or "Der Dienst konnte nicht starten."
                click.echo(f"Fehler: {message}", err=True)
            return super().filter(record)

    logging.getLogger("uvicorn.error").addFilter(StartupReport())
    return app


def serve_workers(settings: Settings, workers: int) -> int:
    """Run `workers` serving processes until a signal stops them; the exit code (3: a worker could not start)."""
    import uvicorn
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors.multiprocess import Multiprocess, Process

    from api.startup import ENVIRONMENT_EXIT, startup_message
    from catalogue.embedded import open_store

    # The workers read their settings from the environment: the command line's host and port too.
    os.environ["LEUCHTTURM_HOST"] = settings.host
    os.environ["LEUCHTTURM_PORT"] = str(settings.port)
    os.environ["LEUCHTTURM_WORKERS"] = str(workers)  # `--workers` overrides an environment value the workers would read
    os.environ[SUPERVISOR_ENV] = str(os.getpid())
    try:
        # On this (the main) thread: FerretDB's parent-death signal is bound to the thread that starts it.
        handle = open_store(settings.mongodb_url, settings.resolved_data_dir, settings.ferretdb_bin)
    except Exception as exc:  # noqa: BLE001 - one German line, as for a single process
        click.echo(f"Fehler: {startup_message(exc)}", err=True)
        return ENVIRONMENT_EXIT

    class Supervisor(Multiprocess):
        def init_processes(self) -> None:
            """The first worker alone until it serves (it loads start-up data once), then the others."""
            first = Process(self.config, self.sockets)
            first.start()
            self.processes.append(first)
            deadline = time.monotonic() + FIRST_WORKER_TIMEOUT_S
            while not first.is_ready(timeout=1):
                if self.signal_queue or not first.process.is_alive() or time.monotonic() > deadline:
                    return  # the loop in `run` stops on the signal, or on the failed start
                time.sleep(0.1)
            for _ in range(self.processes_num - 1):
                process = Process(self.config, self.sockets)
                process.start()
                self.processes.append(process)

        def join_all(self) -> None:
            """Wait for the stopped workers, each at most STOP_TIMEOUT_S; one stuck in its shutdown is killed, so
            the supervisor (and FerretDB with it) never hangs on it."""
            deadline = time.monotonic() + STOP_TIMEOUT_S
            for process in self.processes:
                process.process.join(timeout=max(0.0, deadline - time.monotonic()))
                if process.process.is_alive():
                    process.kill()
                    process.process.join()

    # proxy_headers=False: X-Forwarded-For is believed only from LEUCHTTURM_TRUSTED_PROXIES (api/clients.py).
    config = uvicorn.Config(
        "api.workers:worker_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        log_level="info",
        lifespan="on",
        proxy_headers=False,
        timeout_worker_healthcheck=HEALTHCHECK_TIMEOUT_S,
    )
    supervisor: Multiprocess | None = None
    try:
        sock = config.bind_socket()
        supervisor = Supervisor(config, sockets=[sock])
        supervisor.run()
    except KeyboardInterrupt:
        pass
    finally:
        if supervisor is not None:
            for process in supervisor.processes:
                if process.process.is_alive():
                    process.kill()
        handle.close()
    if supervisor is not None and any(p.exitcode == STARTUP_FAILURE for p in supervisor.processes):
        return ENVIRONMENT_EXIT
    return 0


__all__ = ["serve_workers", "worker_app", "worker_count"]
