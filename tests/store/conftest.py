"""Every store-side test ends with the invariants of `codeloop check` intact (docs/api.md)."""

import pytest

from server.services.invariants import run_checks


@pytest.fixture(autouse=True)
def _invariants(request):
    # asked for at set-up, so the database outlives this check at tear-down
    sessions = request.getfixturevalue("sessions") if "sessions" in request.fixturenames else None
    yield
    if sessions is not None:
        with sessions() as s:
            assert run_checks(s) == []
