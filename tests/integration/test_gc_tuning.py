"""`leuchtturm serve` tunes the cyclic garbage collector once the app has started (api/app.py `tune_garbage_collector`).

Start-up builds ~150,000 long-lived objects (the register, the lexicon, the
modules); a full collection walked all of them every few seconds under load.
The served app freezes them and collects young objects less often; an app
built without `tune_gc` (tests, other embeddings) leaves the collector alone.
"""

from __future__ import annotations

import gc

from api.app import GC_THRESHOLDS, create_app
from catalogue.embedded import StoreHandle
from tests.conftest import _drop_app_db, unique_db_name


async def test_the_served_app_freezes_what_start_up_built_and_collects_young_objects_less_often(settings, mongo_uri) -> None:
    before = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    plain = create_app(settings, db_name=unique_db_name("gc"), handle=StoreHandle(mongo_uri, None))
    async with plain.lifespan():
        assert gc.get_freeze_count() == 0
        assert gc.get_threshold() == before
    await _drop_app_db(plain)

    served = create_app(settings, db_name=unique_db_name("gc"), handle=StoreHandle(mongo_uri, None), tune_gc=True)
    try:
        async with served.lifespan():
            assert gc.get_freeze_count() > 10_000  # the modules and what start-up loaded
            assert gc.get_threshold() == GC_THRESHOLDS
            assert served.state.runtime is not None
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
        await _drop_app_db(served)
