"""netboard/celery.py: what every worker process does once it has loaded."""

from __future__ import annotations

import gc

import pytest
from celery.signals import worker_process_init, worker_ready
from celery.utils.dispatch import Signal

from netboard import celery as celery_app


@pytest.mark.parametrize("signal", [worker_ready, worker_process_init], ids=lambda s: s.name)
def test_a_worker_process_freezes_what_it_has_loaded(signal: Signal) -> None:
    # Connected for the solo pool (worker_ready) and for each prefork child.
    assert celery_app._freeze_loaded_objects in signal._live_receivers(None)
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    try:
        celery_app._freeze_loaded_objects()
        assert gc.get_freeze_count() > 1000  # Django, the apps and the tasks: all of them
    finally:
        gc.unfreeze()
