"""Batches and ranges through the admin API: typed refusals that change nothing, distinct verdicts."""

import pytest
from sqlalchemy import func, select

from codegen.codes import INNER, OUTER
from server.models import AuditLog, Batch, BatchRange, Code
from server.services.codes import check_code


def _count(sessions, model):
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(model))


def _batch(client, auth, catalogue, **extra):
    body = {
        "product_id": catalogue["product"],
        "campaign_id": catalogue["campaign"],
        "quantity": 1000,
        **extra,
    }
    response = client.post("/api/v1/batches", json=body, headers=auth)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_create_batch_is_one_row_however_many_codes(client, auth, catalogue, sessions):
    made = _batch(client, auth, catalogue, quantity=100_000_000)
    assert made["quantity"] == 100_000_000 and made["url_template"] == "HTTPS://Q.EXAMPLE.CN/S/{code}"
    assert _count(sessions, Batch) == 1 and _count(sessions, Code) == 0
    assert len(made["first_code"]) == 20 and made["number"].isalnum()
    with sessions() as s:
        assert s.scalar(select(AuditLog.action).where(AuditLog.object_type == "batch")) == "batch.create"


def test_refusals_are_worded_in_both_languages(client, auth, catalogue):
    body = {"product_id": catalogue["product"], "campaign_id": catalogue["campaign"], "quantity": 10**9}
    zh = client.post("/api/v1/batches", json=body, headers=auth).get_json()["error"]
    en = client.post("/api/v1/batches", json=body, headers={**auth, "Accept-Language": "en"}).get_json()[
        "error"
    ]
    assert zh["message"] == "输入有误：数量须为 1 到 100,000,000 之间的整数"
    assert en["message"] == "Invalid input: quantity must be a whole number from 1 to 100,000,000"


def test_gs1_product_prints_digital_link_urls(client, auth, catalogue):
    made = _batch(client, auth, catalogue, product_id=catalogue["gs1_product"])
    assert made["url_template"] == "HTTPS://Q.EXAMPLE.CN/01/06901234567892/21/{code}"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"quantity": 100_000_001}, "quantity"),
        ({"quantity": 0}, "quantity"),
        ({"quantity": "10"}, "quantity"),
        ({"quantity": 1.5}, "quantity"),
        ({"product_id": 999}, "product_id"),
        ({"campaign_id": -1}, "campaign_id"),
    ],
)
def test_bad_batch_requests_are_refused_and_change_nothing(client, auth, catalogue, sessions, body, field):
    full = {"product_id": catalogue["product"], "campaign_id": catalogue["campaign"], "quantity": 10, **body}
    audits = _count(sessions, AuditLog)
    response = client.post("/api/v1/batches", json=full, headers=auth)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "VALIDATION_FAILED" and error["details"]["field"] == field
    assert _count(sessions, Batch) == 0 and _count(sessions, AuditLog) == audits


@pytest.mark.parametrize("gtin", ["6901234567893", "12345", "69012345678920000", "69O1234567892", "=1+1"])
def test_bad_gtin_is_refused(client, auth, gtin):
    response = client.post(
        "/api/v1/products", json={"name": "x", "gtin": gtin, "url_form": "gs1"}, headers=auth
    )
    assert response.status_code == 400 and response.get_json()["error"]["details"]["field"] == "gtin"


def test_unknown_batch_and_non_json_body(client, auth):
    assert client.get("/api/v1/batches/424242", headers=auth).get_json()["error"]["code"] == "NOT_FOUND"
    assert (
        client.post(
            "/api/v1/batches/424242/activate", json={"first_serial": 0, "last_serial": 1}, headers=auth
        ).status_code
        == 404
    )
    response = client.post("/api/v1/batches", data="not json", headers=auth)
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "VALIDATION_FAILED"


def test_staff_only(client, catalogue):
    assert client.post("/api/v1/batches", json={}).get_json()["error"]["code"] == "UNAUTHORIZED"
    assert client.get("/api/v1/batches", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_ranges_and_distinct_verdicts(app, client, auth, catalogue, sessions):
    made = _batch(client, auth, catalogue)
    url = f"/api/v1/batches/{made['id']}"
    ok = client.post(
        f"{url}/activate",
        headers=auth,
        json={
            "first_serial": 0,
            "last_serial": 499,
            "distributor": "华东经销商",
            "regions": ["上海市", "江苏省"],
        },
    )
    assert ok.status_code == 201 and ok.get_json()["count"] == 500
    assert (
        client.post(
            f"{url}/blacklist",
            headers=auth,
            json={"first_serial": 100, "last_serial": 199, "reason": "roll 2 lost in transit"},
        ).status_code
        == 201
    )
    codec = app.extensions["codeloop"].codec
    with sessions() as s:
        verdict = {
            serial: check_code(s, codec, codec.encode(made["id"], serial)).outcome for serial in (0, 150, 700)
        }
        forged = codec.encode(made["id"], 5)[:-1] + ("0" if codec.encode(made["id"], 5)[-1] != "0" else "1")
        assert check_code(s, codec, forged).outcome == "invalid"
        assert (
            check_code(s, codec, codec.encode(made["id"], 5000)).reason == "unknown_batch"
        )  # past the quantity
        assert (
            check_code(s, codec, codec.encode(made["id"], 5, INNER)).outcome == "invalid"
        )  # batch is not paired
        activation = check_code(s, codec, codec.encode(made["id"], 1, OUTER)).activation
        assert activation.distributor == "华东经销商" and activation.regions == ["上海市", "江苏省"]
        assert [a for (a,) in s.execute(select(AuditLog.action).order_by(AuditLog.id))] == [
            "product.create",
            "product.create",
            "campaign.create",
            "batch.create",
            "batch.activate",
            "batch.blacklist",
        ]
    assert verdict == {0: "ok", 150: "blacklisted", 700: "inactive"}


@pytest.mark.parametrize(
    "kind, body, reason",
    [
        ("activate", {"first_serial": 400, "last_serial": 600}, "overlap"),
        ("activate", {"first_serial": 900, "last_serial": 1000}, "0 ≤ first ≤ last < 1000"),
        ("activate", {"first_serial": 10, "last_serial": 5}, "0 ≤ first ≤ last"),
        ("activate", {"first_serial": -1, "last_serial": 5}, "0 ≤ first ≤ last"),
        ("activate", {"first_serial": 0}, "last_serial must be a whole number"),
        ("blacklist", {"first_serial": 0, "last_serial": 5}, "a blacklist needs a reason"),
        ("activate", {"first_serial": 600, "last_serial": 700, "regions": "上海"}, "regions must be a list"),
        (
            "activate",
            {"first_serial": 600, "last_serial": 700, "regions": ["x" * 41]},
            "regions must be up to",
        ),
    ],
)
def test_bad_ranges_are_refused_and_change_nothing(client, auth, catalogue, sessions, kind, body, reason):
    made = _batch(client, auth, catalogue)
    client.post(
        f"/api/v1/batches/{made['id']}/activate", json={"first_serial": 0, "last_serial": 499}, headers=auth
    )
    before = _count(sessions, BatchRange), _count(sessions, AuditLog)
    response = client.post(f"/api/v1/batches/{made['id']}/{kind}", json=body, headers=auth)
    assert (
        response.status_code == 400
        and reason
        in response.get_json()["error"]["message"]
        + client.post(
            f"/api/v1/batches/{made['id']}/{kind}", json=body, headers={**auth, "Accept-Language": "en"}
        ).get_json()["error"]["message"]
    )
    assert (_count(sessions, BatchRange), _count(sessions, AuditLog)) == before


@pytest.mark.parametrize(
    "text", ["A" * 10_000, "ABC\x00DEF", "\x1b[31m", "' OR 1=1 --", "<script>", "%2541", "０１２"]
)
def test_hostile_codes_are_invalid_without_touching_the_database(app, text):
    codec = app.extensions["codeloop"].codec

    class NoDatabase:
        def get(self, *a):
            raise AssertionError("a forged code reached the database")

        execute = get

    assert check_code(NoDatabase(), codec, text).outcome == "invalid"


def test_code_lookup_of_hostile_input_is_typed(client, auth):
    for text in ["A" * 10_000, "%00", "..%2F..%2Fetc"]:
        response = client.get(f"/api/v1/codes/{text}", headers=auth)
        assert response.status_code == 200 and response.get_json()["outcome"] == "invalid"


def test_code_lookup_shows_state(app, client, auth, catalogue):
    made = _batch(client, auth, catalogue)
    client.post(
        f"/api/v1/batches/{made['id']}/activate", json={"first_serial": 0, "last_serial": 9}, headers=auth
    )
    code = app.extensions["codeloop"].codec.encode(made["id"], 3)
    body = client.get(f"/api/v1/codes/{code.lower()}", headers=auth).get_json()
    assert body["outcome"] == "ok" and body["serial"] == 3 and body["scan_count"] == 0 and body["scans"] == []
