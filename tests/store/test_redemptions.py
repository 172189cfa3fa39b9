"""POST /api/v1/redemptions and /reverse: one success, typed refusals that change nothing,
Stripe idempotency."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from server.models import Campaign, LedgerAccount, LedgerEntry, Redemption, Voucher, utcnow
from server.services import ledger, voucher_tokens
from tests.conftest import SECRET
from tests.store.world import add_voucher, build, counts, idempotency_rows


@pytest.fixture
def world(sessions):
    return build(sessions, vouchers=4)


def redeem(client, world, who="clerk0", key=None, **body):
    body.setdefault("voucher", world.vouchers[0])
    return client.post("/api/v1/redemptions", json=body, headers=world.auth(who, key))


def balances(sessions):
    with sessions() as s:
        rows = s.execute(
            select(LedgerAccount.kind, LedgerAccount.ref_id, LedgerAccount.unit, LedgerEntry.amount).join(
                LedgerEntry
            )
        ).all()
    out = {}
    for kind, ref, unit, amount in rows:
        out[(kind, ref, unit)] = out.get((kind, ref, unit), 0) + amount
    return out


def test_redeem_posts_one_ledger_transaction(client, world, sessions):
    response = redeem(
        client, world, voucher=f" {world.vouchers[0].lower()} ", purchase_fen=2000, receipt_ref="R-1"
    )
    assert response.status_code == 201
    body = response.get_json()["redemption"]
    assert (
        body["voucher"] == world.vouchers[0]
        and body["store"]["id"] == world.stores[0]
        and body["clerk_id"] == world.clerks[0]
    )
    assert balances(sessions) == {
        ("store", world.stores[0], "fen"): 600,
        ("clerk", world.clerks[0], "fen"): 50,
        ("campaign", world.campaign_id, "fen"): -650,
    }
    with sessions() as s:
        assert s.get(Voucher, 1).status == "redeemed"
        red = s.get(Redemption, body["id"])
        assert (red.purchase_fen, red.receipt_ref, red.store_id) == (2000, "R-1", world.stores[0])
        held = ledger.balance(s, ledger.Account("store", world.stores[0]), utcnow())
        assert held.held == 600 and held.available == 0  # payable only after hold_days


def test_full_width_and_dashed_input_is_normalised(client, world):
    code = world.vouchers[1]
    mangled = "".join(chr(ord(c) + 0xFEE0) for c in code.lower())  # full-width, as an IME types it
    assert redeem(client, world, voucher=mangled[:2] + "－ " + mangled[2:]).status_code == 201


def test_scanned_voucher_url_is_accepted(client, world):
    assert redeem(client, world, voucher=f"https://q.example.cn/v/{world.vouchers[2]}").status_code == 201


def assert_refused(response, code, before, sessions, status=None):
    assert response.get_json()["error"]["code"] == code, response.get_json()
    if status:
        assert response.status_code == status
    assert counts(sessions) == before


def test_already_redeemed_same_store_names_when_and_where(client, world, sessions):
    redeem(client, world)
    before = counts(sessions)
    response = redeem(client, world)
    assert_refused(response, "VOUCHER_ALREADY_REDEEMED", before, sessions, 409)
    details = response.get_json()["error"]["details"]
    assert details["same_store"] is True and details["store"] == "一号店" and details["redeemed_at"]
    assert "一号店" in response.get_json()["error"]["message"]


def test_already_redeemed_other_store_names_when_not_where(client, world, sessions):
    redeem(client, world)
    before = counts(sessions)
    response = client.post(
        "/api/v1/redemptions",
        json={"voucher": world.vouchers[0]},
        headers={**world.auth("clerk1"), "Accept-Language": "en"},
    )
    assert_refused(response, "VOUCHER_ALREADY_REDEEMED", before, sessions, 409)
    error = response.get_json()["error"]
    assert error["details"]["same_store"] is False and "store_id" not in error["details"]
    assert (
        "一号店" not in error["message"]
        and "another store" in error["message"]
        and error["details"]["redeemed_at"] in error["message"]
    )


def test_voucher_lookup_names_the_redeeming_store_only_to_its_own_staff(client, world):
    assert redeem(client, world).status_code == 201  # clerk0 at 一号店
    pos = {}
    for i, store in enumerate(world.stores):
        issued = client.post(f"/api/v1/stores/{store}/tokens", headers=world.auth("admin"))
        pos[i] = {"Authorization": f"Bearer {issued.get_json()['token']}"}

    def store_seen(headers, lang="en"):
        got = client.get(
            f"/api/v1/vouchers/{world.vouchers[0]}", headers={**headers, "Accept-Language": lang}
        )
        assert got.status_code == 200, got.get_json()
        voucher = got.get_json()["voucher"]
        assert voucher["state"] == "redeemed" and voucher["redeemed_at"]
        return voucher["store"]

    named = {"id": world.stores[0], "name": "一号店"}
    for own in (world.auth("clerk0"), world.auth("owner"), world.auth("admin"), pos[0]):
        assert store_seen(own) == named
    for other in (world.auth("clerk1"), pos[1]):
        assert store_seen(other) == {"id": None, "name": "another store"}
    assert store_seen(world.auth("clerk1"), "zh-CN") == {"id": None, "name": "其他门店"}


def test_expired_voucher_is_refused(client, world, sessions):
    with sessions.begin() as s:
        code = add_voucher(s, s.get(Campaign, world.campaign_id), expires_at=utcnow() - timedelta(minutes=1))
    before = counts(sessions)
    assert_refused(redeem(client, world, voucher=code), "VOUCHER_EXPIRED", before, sessions, 409)


def test_below_minimum_spend_is_refused_then_accepted(client, world, sessions):
    with sessions.begin() as s:
        code = add_voucher(s, s.get(Campaign, world.campaign_id), min_spend_fen=5000)
    before = counts(sessions)
    response = redeem(client, world, voucher=code, purchase_fen=4999)
    assert_refused(response, "MIN_SPEND_NOT_MET", before, sessions, 409)
    assert "50.00" in response.get_json()["error"]["message"]
    assert_refused(redeem(client, world, voucher=code), "MIN_SPEND_NOT_MET", before, sessions)
    assert redeem(client, world, voucher=code, purchase_fen=5000).status_code == 201


@pytest.mark.parametrize("state", ["redeemed", "expired"])
def test_the_vouchers_state_is_told_before_its_minimum_spend(client, world, sessions, state):
    """Typed without an amount, a used or expired voucher is refused for what it is, not for the amount."""
    expires = utcnow() + (timedelta(days=1) if state == "redeemed" else -timedelta(minutes=1))
    with sessions.begin() as s:
        code = add_voucher(s, s.get(Campaign, world.campaign_id), min_spend_fen=2000, expires_at=expires)
    if state == "redeemed":
        assert redeem(client, world, voucher=code, purchase_fen=2000).status_code == 201
    before = counts(sessions)
    expected = "VOUCHER_ALREADY_REDEEMED" if state == "redeemed" else "VOUCHER_EXPIRED"
    assert_refused(redeem(client, world, voucher=code), expected, before, sessions, 409)
    assert_refused(redeem(client, world, voucher=code, purchase_fen=100), expected, before, sessions, 409)


def test_unknown_voucher(client, world, sessions):
    before = counts(sessions)
    assert_refused(redeem(client, world, voucher="NOPE123"), "VOUCHER_NOT_FOUND", before, sessions, 404)
    assert_refused(redeem(client, world, voucher="DROP TABLE;"), "VOUCHER_NOT_FOUND", before, sessions, 404)


@pytest.mark.parametrize("who,store", [("clerk0", 1), ("owner", 1), ("admin", 2)])
def test_store_restrictions_allow(client, world, who, store):
    assert redeem(client, world, who=who, store_id=store).status_code == 201


@pytest.mark.parametrize(
    "who,store,code",
    [
        ("clerk0", 2, "STORE_NOT_ALLOWED"),  # a clerk redeems only for their store
        ("owner", 2, "STORE_NOT_ALLOWED"),  # an owner only for a store they own
        ("owner", None, "VALIDATION_FAILED"),  # owners and admins must name the store
        ("admin", 999, "STORE_NOT_ALLOWED"),
    ],
)
def test_store_restrictions_refuse(client, world, sessions, who, store, code):
    before = counts(sessions)
    body = {"store_id": store} if store else {}
    assert_refused(redeem(client, world, who=who, **body), code, before, sessions)


def test_pos_token_is_bound_to_its_store(client, world, sessions, app):
    from server.models import User
    from server.services.accounts import create_token

    with sessions.begin() as s:
        plain, _ = create_token(
            s, user=s.get(User, world.admin), store_id=world.stores[1], now=utcnow(), name="POS"
        )
    before = counts(sessions)
    headers = {"Authorization": f"Bearer {plain}"}
    refused = client.post(
        "/api/v1/redemptions",
        json={"voucher": world.vouchers[0], "store_id": world.stores[0]},
        headers=headers,
    )
    assert_refused(refused, "STORE_NOT_ALLOWED", before, sessions, 403)
    ok = client.post("/api/v1/redemptions", json={"voucher": world.vouchers[0]}, headers=headers)
    assert ok.status_code == 201 and ok.get_json()["redemption"]["store"]["id"] == world.stores[1]
    assert (
        ok.get_json()["redemption"]["clerk_id"] is None
    )  # no clerk operated it (rewards: test_attributed_rewards)


def test_unauthenticated_and_bad_bodies(client, world, sessions):
    before = counts(sessions)
    assert_refused(
        client.post("/api/v1/redemptions", json={"voucher": world.vouchers[0]}),
        "UNAUTHORIZED",
        before,
        sessions,
        401,
    )
    assert_refused(
        client.post(
            "/api/v1/redemptions",
            json={"voucher": world.vouchers[0]},
            headers={"Authorization": "Bearer cl_wrong"},
        ),
        "UNAUTHORIZED",
        before,
        sessions,
        401,
    )
    for body in (
        {},
        {"voucher": 5},
        {"voucher": world.vouchers[0], "purchase_fen": "12"},
        {"voucher": world.vouchers[0], "purchase_fen": -1},
        {"voucher": world.vouchers[0], "purchase_fen": 1.5},
    ):
        response = client.post("/api/v1/redemptions", json=body, headers=world.auth("clerk0"))
        assert_refused(response, "VALIDATION_FAILED", before, sessions, 400)


def test_rotating_token_fresh_stale_and_plain_code(client, world, sessions):
    with sessions.begin() as s:
        s.get(Campaign, world.campaign_id).rotating_token = True
    code = world.vouchers[0]
    before = counts(sessions)
    stale = voucher_tokens.make_token(SECRET, code, utcnow() - timedelta(minutes=5))
    assert_refused(redeem(client, world, voucher=stale), "VOUCHER_TOKEN_EXPIRED", before, sessions, 409)
    assert_refused(
        redeem(client, world, voucher=code), "VOUCHER_TOKEN_EXPIRED", before, sessions, 409
    )  # screenshot code
    forged = stale.rsplit(".", 1)[0] + ".0000000000000000"
    assert_refused(redeem(client, world, voucher=forged), "VOUCHER_NOT_FOUND", before, sessions)
    fresh = voucher_tokens.make_token(SECRET, code, utcnow())
    assert redeem(client, world, voucher=fresh).status_code == 201


@pytest.mark.parametrize(
    "lang,sentence",
    [("zh-CN", "二维码已过期，请让顾客刷新券页面。"), ("en", "This QR has expired: ask the customer")],
)
def test_a_rotating_token_is_stale_within_75_seconds_of_being_shown(
    client, world, sessions, monkeypatch, lang, sentence
):
    with sessions.begin() as s:
        s.get(Campaign, world.campaign_id).rotating_token = True
    opens = datetime.fromtimestamp(
        (int(utcnow().timestamp()) // voucher_tokens.STEP_SECONDS + 1) * voucher_tokens.STEP_SECONDS, UTC
    )
    shown = opens + timedelta(seconds=1)  # read in the first second of its window: the longest-lived case
    token = voucher_tokens.make_token(SECRET, world.vouchers[0], shown)
    stale_at = opens + timedelta(seconds=voucher_tokens.STEP_SECONDS + voucher_tokens.GRACE_SECONDS)
    assert voucher_tokens.GRACE_SECONDS <= 15 and stale_at - opens <= timedelta(seconds=75)
    clock = {"now": stale_at}
    monkeypatch.setattr("server.api.store.utcnow", lambda: clock["now"])
    before = counts(sessions)
    headers = {**world.auth("clerk0"), "Accept-Language": lang}
    for late in (stale_at, shown + timedelta(seconds=114)):
        clock["now"] = late
        refused = client.post("/api/v1/redemptions", json={"voucher": token}, headers=headers)
        assert_refused(refused, "VOUCHER_TOKEN_EXPIRED", before, sessions, 409)
        assert refused.get_json()["error"]["message"].startswith(sentence)
    clock["now"] = stale_at - timedelta(seconds=1)  # the window's end plus the grace, less a second
    assert client.post("/api/v1/redemptions", json={"voucher": token}, headers=headers).status_code == 201


# ---- idempotency ----------------------------------------------------------------------------------


def test_same_key_same_body_replays_the_stored_response(client, world, sessions):
    first = redeem(client, world, key="k-1", purchase_fen=100)
    after_first = counts(sessions)
    again = client.post(
        "/api/v1/redemptions",
        json={"purchase_fen": 100, "voucher": world.vouchers[0]},
        headers=world.auth("clerk0", "k-1"),
    )  # same JSON, other key order
    assert (again.status_code, again.get_json()) == (first.status_code, first.get_json())
    assert again.headers["Idempotent-Replayed"] == "true"
    assert counts(sessions) == after_first and idempotency_rows(sessions) == 1


def test_refusals_are_replayed_too(client, world, sessions):
    refused = redeem(client, world, key="k-2", voucher="NOPE123")
    with sessions.begin() as s:  # even if the voucher appeared meanwhile, the stored answer stands
        add_voucher(s, s.get(Campaign, world.campaign_id))
    again = redeem(client, world, key="k-2", voucher="NOPE123")
    assert (
        (again.status_code, again.get_json())
        == (refused.status_code, refused.get_json())
        == (404, refused.get_json())
    )


def test_same_key_other_body_is_refused(client, world, sessions):
    redeem(client, world, key="k-3")
    before = counts(sessions)
    response = redeem(client, world, key="k-3", voucher=world.vouchers[1])
    assert_refused(response, "IDEMPOTENCY_KEY_REUSED", before, sessions, 422)
    with sessions() as s:
        assert s.get(Voucher, 2).status == "issued"


def test_keys_are_scoped_per_principal(client, world, sessions):
    assert redeem(client, world, key="shared").status_code == 201
    response = redeem(client, world, who="clerk1", key="shared", voucher=world.vouchers[1])
    assert response.status_code == 201 and idempotency_rows(sessions) == 2


# ---- reversal ----------------------------------------------------------------------------------------


def test_reverse_within_grace_restores_voucher_and_ledger(client, world, sessions):
    rid = redeem(client, world).get_json()["redemption"]["id"]
    response = client.post(f"/api/v1/redemptions/{rid}/reverse", headers=world.auth("clerk0"))
    assert response.status_code == 200 and response.get_json()["redemption"]["reversed_at"]
    assert set(balances(sessions).values()) == {0}
    with sessions() as s:
        assert s.get(Voucher, 1).status == "issued"
    before = counts(sessions)
    assert_refused(
        client.post(f"/api/v1/redemptions/{rid}/reverse", headers=world.auth("clerk0")),
        "REDEMPTION_ALREADY_REVERSED",
        before,
        sessions,
        409,
    )
    assert redeem(client, world).status_code == 201  # the voucher can be used again


def test_reverse_refusals(client, world, sessions):
    rid = redeem(client, world).get_json()["redemption"]["id"]
    before = counts(sessions)
    for who, code in [("clerk1", "FORBIDDEN"), ("owner", "FORBIDDEN")]:
        assert_refused(
            client.post(f"/api/v1/redemptions/{rid}/reverse", headers=world.auth(who)),
            code,
            before,
            sessions,
            403,
        )
    assert_refused(
        client.post("/api/v1/redemptions/999/reverse", headers=world.auth("admin")),
        "NOT_FOUND",
        before,
        sessions,
        404,
    )
    with sessions.begin() as s:
        s.get(Redemption, rid).redeemed_at = utcnow() - timedelta(minutes=31)
    before = counts(sessions)
    response = client.post(f"/api/v1/redemptions/{rid}/reverse", headers=world.auth("admin"))
    assert_refused(response, "REVERSAL_WINDOW_CLOSED", before, sessions, 409)
    assert "30" in response.get_json()["error"]["message"]


def test_admin_reverses_any_store(client, world, sessions):
    rid = redeem(client, world, who="clerk1").get_json()["redemption"]["id"]
    assert client.post(f"/api/v1/redemptions/{rid}/reverse", headers=world.auth("admin")).status_code == 200


def test_list_redemptions_is_scoped(client, world):
    redeem(client, world)
    redeem(client, world, who="clerk1", voucher=world.vouchers[1])
    mine = client.get("/api/v1/redemptions", headers=world.auth("clerk1")).get_json()["redemptions"]
    assert [r["store_id"] for r in mine] == [world.stores[1]]
    owned = client.get("/api/v1/redemptions", headers=world.auth("owner")).get_json()["redemptions"]
    assert [r["store_id"] for r in owned] == [world.stores[0]]
    assert len(client.get("/api/v1/redemptions", headers=world.auth("admin")).get_json()["redemptions"]) == 2


def test_openapi_documents_the_store_routes(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {
        "/redemptions",
        "/redemptions/{redemption_id}/reverse",
        "/settlements/run",
        "/settlements",
        "/settlements/{settlement_id}/paid",
        "/stores",
        "/clerks",
    } <= set(paths)


def test_pos_token_issued_by_the_api_redeems_and_reverses_for_its_store_only(client, world, sessions):
    issued = client.post(
        f"/api/v1/stores/{world.stores[1]}/tokens", json={"name": "till 1"}, headers=world.auth("admin")
    )
    assert issued.status_code == 201 and issued.get_json()["store_id"] == world.stores[1]
    pos = {"Authorization": f"Bearer {issued.get_json()['token']}"}
    ok = client.post("/api/v1/redemptions", json={"voucher": world.vouchers[0]}, headers=pos)
    assert ok.status_code == 201 and ok.get_json()["redemption"]["clerk_id"] is None
    rid = ok.get_json()["redemption"]["id"]
    other = client.post(
        "/api/v1/redemptions", json={"voucher": world.vouchers[1]}, headers=world.auth("clerk0")
    ).get_json()
    before = counts(sessions)
    for method, path in [
        ("post", "/api/v1/stores"),
        ("get", "/api/v1/clerks"),
        ("post", "/api/v1/settlements/run"),
        ("post", f"/api/v1/redemptions/{other['redemption']['id']}/reverse"),
    ]:
        response = getattr(client, method)(path, json={}, headers=pos)
        assert response.status_code == 403, path  # a till's token has no admin powers, nor other stores
    assert counts(sessions) == before
    assert client.post(f"/api/v1/redemptions/{rid}/reverse", headers=pos).status_code == 200
    assert client.post("/api/v1/stores/999/tokens", json={}, headers=world.auth("admin")).status_code == 404


def test_an_inactive_store_cannot_redeem(client, world, sessions):
    from server.models import Store

    with sessions.begin() as s:
        s.get(Store, world.stores[0]).active = False
    before = counts(sessions)
    assert_refused(redeem(client, world), "STORE_NOT_ALLOWED", before, sessions, 403)


def test_a_crashed_request_releases_its_key_for_the_retry(client, world, sessions, monkeypatch):
    from server.services import redemptions

    real = redemptions.rewards.redemption_postings

    def boom(*args, **kwargs):  # after the voucher, redemption and ledger transaction were written
        raise RuntimeError("database went away mid-request")

    monkeypatch.setattr(redemptions.rewards, "redemption_postings", boom)
    client.application.config["PROPAGATE_EXCEPTIONS"] = False
    before = counts(sessions)
    assert redeem(client, world, key="crash").status_code == 500
    assert counts(sessions) == before and idempotency_rows(sessions) == 0  # nothing half-done, key forgotten
    monkeypatch.setattr(redemptions.rewards, "redemption_postings", real)
    assert redeem(client, world, key="crash").status_code == 201  # the retry does the work


def test_crockford_lookalikes_are_read_as_digits(client, world, sessions):
    from server.models import Voucher

    with sessions.begin() as s:
        s.get(Voucher, 1).code = "AB01"
    assert redeem(client, world, voucher="a b o l").get_json()["redemption"]["voucher"] == "AB01"
