"""A forged code costs no database work: no scan row, no consumer, no consumer cookie — on the scan page and
the JSON API alike. The attempt is still counted per address, network and minute (in Redis, or in memory
without it), and those counters alone raise the enumeration alert."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from server.config import ALERT_THRESHOLDS
from server.consumer_web import COOKIE
from server.forgeries import drain, keys_for
from server.models import Alert, Consumer, ForgedScans, Scan
from server.services.alerts import run_rules
from tests.conftest import SECRET, make_config
from tests.consumer.conftest import build_world

NOW = datetime(2026, 3, 10, 8, 0, 5, tzinfo=UTC)
IP = "203.0.113.7"
N = 12


@pytest.fixture(params=["memory", "redis"])
def app(request, database_url, tmp_path, monkeypatch):
    from server.app import create_app

    redis_url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    for module in ("server.consumer_web", "server.views.consumer", "server.api.consumer"):
        monkeypatch.setattr(f"{module}.utcnow", lambda: NOW)
    app = create_app(make_config(database_url, tmp_path, redis_url=redis_url))
    yield app
    app.extensions["codeloop"].engine.dispose()


def forge(code: str) -> str:
    return code[:-1] + ("0" if code[-1] != "0" else "1")


def rows(app, model) -> int:
    with app.extensions["codeloop"].sessions() as s:
        return s.scalar(select(func.count()).select_from(model))


def counted(app) -> dict[str, int]:
    """Drain the counters into forged_scans: attempts per scope for IP's address and network, and overall."""
    runtime = app.extensions["codeloop"]
    drain(runtime.forgeries, runtime.sessions, NOW + timedelta(minutes=2))
    (_, ip), (_, net), _ = keys_for(SECRET.encode(), IP)
    with runtime.sessions() as s:
        found = s.execute(
            select(ForgedScans.scope, ForgedScans.key, ForgedScans.redis_count + ForgedScans.memory_count)
        )
        by_scope = {(scope, key): n for scope, key, n in found}
    return {
        "ip": by_scope.get(("ip", ip), 0),
        "net": by_scope.get(("net", net), 0),
        "all": by_scope.get(("all", ""), 0),
    }


def assert_no_consumer_cookie(response) -> None:
    cookies = response.headers.getlist("Set-Cookie")
    assert not [c for c in cookies if c.startswith(f"{COOKIE}=")], cookies


def test_forged_scans_on_the_page_write_nothing_and_are_counted(app):
    world = build_world(app, quantity=20)
    for serial in range(N):
        r = app.test_client().get(  # a new client each time: no cookie
            f"/S/{forge(world.code(serial))}",
            headers={"Accept-Language": "zh-CN"},
            environ_base={"REMOTE_ADDR": IP},
        )
        assert r.status_code == 404 and "这不是有效的防伪码" in r.get_data(as_text=True)
        assert_no_consumer_cookie(r)
    english = app.test_client().get(
        f"/S/{forge(world.code(1))}", headers={"Accept-Language": "en"}, environ_base={"REMOTE_ADDR": IP}
    )
    assert english.status_code == 404 and "Not a genuine code" in english.get_data(as_text=True)
    assert rows(app, Scan) == 0 and rows(app, Consumer) == 0
    assert counted(app) == {"ip": N + 1, "net": N + 1, "all": N + 1}


def test_forged_and_malformed_scans_on_the_api_write_nothing_and_are_counted(app):
    world = build_world(app, quantity=20)
    client = app.test_client()
    for serial in range(N):
        r = client.get(f"/api/v1/scan/{forge(world.code(serial))}", environ_base={"REMOTE_ADDR": IP})
        assert r.status_code == 404 and r.json["error"]["code"] == "CODE_INVALID", r.json
        assert r.json["outcome"] == "invalid" and "consumer_token" not in r.json
        assert_no_consumer_cookie(r)
    malformed = client.get("/api/v1/scan/AB%01CD", environ_base={"REMOTE_ADDR": IP})
    assert malformed.status_code == 404 and "consumer_token" not in malformed.json
    assert rows(app, Scan) == 0 and rows(app, Consumer) == 0
    assert counted(app) == {"ip": N + 1, "net": N + 1, "all": N + 1}


def test_a_known_consumer_scanning_a_forged_code_writes_no_row(app):
    world = build_world(app, quantity=20)
    client = app.test_client()
    assert client.get(f"/S/{world.code(1)}", environ_base={"REMOTE_ADDR": IP}).status_code == 200
    r = client.get(f"/S/{forge(world.code(2))}", environ_base={"REMOTE_ADDR": IP})
    assert r.status_code == 404
    assert_no_consumer_cookie(r)
    assert rows(app, Scan) == 1 and rows(app, Consumer) == 1
    assert counted(app)["ip"] == 1


def test_the_enumeration_alert_fires_from_the_counters_alone(app):
    world = build_world(app, quantity=50)
    client = app.test_client()
    for serial in range(N):
        client.get(f"/S/{forge(world.code(serial))}", environ_base={"REMOTE_ADDR": IP})
    assert rows(app, Scan) == 0
    thresholds = {name: spec[0] for name, spec in ALERT_THRESHOLDS.items()}
    thresholds.update(enum_ip_per_minute=N - 1, enum_net_per_minute=N - 1, enum_all_per_minute=N - 1)
    runtime = app.extensions["codeloop"]
    later = NOW + timedelta(minutes=2)
    drain(runtime.forgeries, runtime.sessions, later)
    run_rules(runtime.sessions, thresholds=thresholds, tz=runtime.config.tz, now=later)
    with runtime.sessions() as s:
        alerts = s.scalars(select(Alert).where(Alert.kind == "enumeration")).all()
        assert sorted(a.details["scope"] for a in alerts) == ["all", "ip", "net"]
        assert {a.details["peak_per_minute"] for a in alerts} == {N}
