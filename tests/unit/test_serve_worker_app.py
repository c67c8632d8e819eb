"""`api.workers.worker_app`, the app factory of each serving process of `leuchtturm serve --workers N`."""

from __future__ import annotations

import pytest
from uvicorn.config import STARTUP_FAILURE

from api import workers


def test_a_worker_whose_app_cannot_be_built_says_why_and_stops_the_supervisor(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A failure while a serving process builds its app ends that process with uvicorn's start-up failure code,
    which stops the supervisor (review s26, F4: exit code 1 made it start the process again and again, with a
    traceback and no German line)."""
    import api.app
    import catalogue.embedded

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("Suchindex nicht lesbar")

    monkeypatch.setattr(catalogue.embedded, "bind_to_parent", lambda: None)  # not the test process's parent
    monkeypatch.delenv(workers.SUPERVISOR_ENV, raising=False)
    monkeypatch.setattr(api.app, "create_app", broken)
    with pytest.raises(SystemExit) as stopped:
        workers.worker_app()
    assert stopped.value.code == STARTUP_FAILURE
    err = capsys.readouterr().err
    assert err.startswith("Fehler: ") and "Traceback" not in err
