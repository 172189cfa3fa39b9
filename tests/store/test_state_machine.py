"""A hypothesis state machine over claim / redeem / reverse / settle / pay / retry / replay through the real
API, checking the invariants (run_checks) and a model of every balance after each step (SQLite)."""

from __future__ import annotations

import shutil
import uuid
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from sqlalchemy import select, update

from server.db import make_engine, make_sessionmaker
from server.models import ApiToken, Campaign, Store, User, Voucher, utcnow
from server.services import ledger
from server.services.accounts import hash_token
from server.services.invariants import run_checks
from tests.conftest import make_config
from tests.factories import make_campaign, make_code, make_consumer

CAP, VALUE, FEE, REWARD = 6, 500, 100, 50


class RedemptionMachine(RuleBasedStateMachine):
    TEMPLATE = None
    TMP = None

    @initialize()
    def setup(self):
        from server.app import create_app

        folder = self.TMP.mktemp("machine")
        shutil.copy(self.TEMPLATE, folder / "db.sqlite3")
        url = f"sqlite:///{folder / 'db.sqlite3'}"
        self.engine = make_engine(url)
        self.sessions = make_sessionmaker(self.engine)
        self.app = create_app(make_config(url, folder, hold_days=0))
        self.client = self.app.test_client()
        now = utcnow()
        with self.sessions.begin() as s:
            self.campaign = make_campaign(
                s,
                cap=CAP,
                budget_fen=CAP * VALUE,
                voucher_value_fen=VALUE,
                store_fee_fen=FEE,
                clerk_redeem_reward_fen=REWARD,
            ).id
            stores = [Store(name=f"店{i}", created_at=now) for i in range(2)]
            s.add_all(stores)
            s.flush()
            self.stores = [st_.id for st_ in stores]
            self.clerks, self.tokens = [], []
            for i, store in enumerate(stores):  # cheap users: the password hash is never checked here
                clerk = User(
                    username=f"m{i}", password_hash="-", role="clerk", store_id=store.id, created_at=now
                )
                s.add(clerk)
                s.flush()
                plain = f"cl_machine_{i}_{uuid.uuid4().hex}"
                s.add(
                    ApiToken(
                        user_id=clerk.id,
                        store_id=store.id,
                        token_hash=hash_token(plain),
                        prefix=plain[:10],
                        created_at=now,
                    )
                )
                self.clerks.append(clerk.id)
                self.tokens.append(plain)
        self.vouchers: list[str] = []
        self.attributed: dict[str, int | None] = {}  # voucher -> index of the clerk it is attributed to
        self.live: dict[str, tuple[int, int]] = {}  # voucher -> (redemption id, clerk index)
        self.redemptions: dict[int, tuple[str, int, bool]] = {}  # redemption id -> (voucher, clerk, live?)
        self.total: dict[tuple[str, int], int] = {}
        self.settled: dict[tuple[str, int], int] = {}
        self.keys: dict[str, tuple] = {}  # key -> (clerk, path, body, status, response)
        self.open_statements: list[int] = []
        self.paid: list[int] = []

    def teardown(self):
        if hasattr(self, "engine"):
            self.app.extensions["codeloop"].engine.dispose()
            self.engine.dispose()

    # ---- helpers ----
    def _post(self, path, clerk, body=None, key=None):
        headers = {"Authorization": f"Bearer {self.tokens[clerk]}"}
        if key:
            headers["Idempotency-Key"] = key
        r = self.client.post(path, json=body if body is not None else {}, headers=headers)
        return r.status_code, r.get_json()

    def _move(self, code: str, clerk: int, sign: int):
        """The redeeming clerk's store is paid; the voucher's attributed clerk, if any, earns the reward."""
        moves = [(("store", self.stores[clerk]), VALUE + FEE), (("campaign", self.campaign), -(VALUE + FEE))]
        if self.attributed[code] is not None:
            moves += [
                (("clerk", self.clerks[self.attributed[code]]), REWARD),
                (("campaign", self.campaign), -REWARD),
            ]
        for account, amount in moves:
            self.total[account] = self.total.get(account, 0) + sign * amount

    # ---- rules ----
    @rule(attributed=st.sampled_from([None, 0, 1]))
    def claim(self, attributed):
        with self.sessions.begin() as s:
            won = s.execute(
                update(Campaign)
                .where(Campaign.id == self.campaign, Campaign.issued_count < Campaign.cap)
                .values(issued_count=Campaign.issued_count + 1, spent_fen=Campaign.spent_fen + VALUE)
                .returning(Campaign.id)
            ).scalar()
            if won is None:
                assert len(self.vouchers) == CAP
                return
            now = utcnow()
            voucher = Voucher(
                code=f"M{uuid.uuid4().hex[:10].upper()}",
                kind="pack",
                campaign_id=self.campaign,
                code_id=make_code(s).id,
                consumer_id=make_consumer(s).id,
                clerk_id=None if attributed is None else self.clerks[attributed],
                value_fen=VALUE,
                issued_at=now,
                expires_at=now + timedelta(days=30),
            )
            s.add(voucher)
            s.flush()
            self.vouchers.append(voucher.code)
            self.attributed[voucher.code] = attributed

    @rule(
        v=st.integers(0, 50),
        clerk=st.integers(0, 1),
        keyed=st.booleans(),
        purchase=st.sampled_from([None, 0, 999]),
    )
    def redeem(self, v, clerk, keyed, purchase):
        if not self.vouchers:
            return
        code = self.vouchers[v % len(self.vouchers)]
        body = {"voucher": code} if purchase is None else {"voucher": code, "purchase_fen": purchase}
        key = str(uuid.uuid4()) if keyed else None
        status, response = self._post("/api/v1/redemptions", clerk, body, key)
        if code in self.live:
            assert status == 409 and response["error"]["code"] == "VOUCHER_ALREADY_REDEEMED"
            assert response["error"]["details"]["same_store"] is (self.live[code][1] == clerk)
        else:
            assert status == 201, response
            rid = response["redemption"]["id"]
            self.live[code] = (rid, clerk)
            self.redemptions[rid] = (code, clerk, True)
            self._move(code, clerk, +1)
        if key:
            self.keys[key] = (clerk, "/api/v1/redemptions", body, status, response)

    @rule(r=st.integers(0, 50), keyed=st.booleans())
    def reverse(self, r, keyed):
        if not self.redemptions:
            return
        rid = sorted(self.redemptions)[r % len(self.redemptions)]
        code, clerk, live = self.redemptions[rid]
        path, key = f"/api/v1/redemptions/{rid}/reverse", (str(uuid.uuid4()) if keyed else None)
        status, response = self._post(path, clerk, None, key)
        if live:
            assert status == 200, response
            self.redemptions[rid] = (code, clerk, False)
            del self.live[code]
            self._move(code, clerk, -1)
        else:
            assert status == 409 and response["error"]["code"] == "REDEMPTION_ALREADY_REVERSED"
        if key:
            self.keys[key] = (clerk, path, None, status, response)

    @rule()
    def settle(self):
        r = self.client.post(
            "/api/v1/settlements/run", json={}, headers={"Authorization": f"Bearer {self._admin_token()}"}
        )
        assert r.status_code in (200, 201), r.get_json()
        self.open_statements += r.get_json()["created"]
        for account, amount in self.total.items():
            if account[0] in ("store", "clerk"):
                self.settled[account] = amount

    @rule(i=st.integers(0, 50))
    def pay(self, i):
        if not self.open_statements:
            return
        sid = self.open_statements.pop(i % len(self.open_statements))
        headers = {"Authorization": f"Bearer {self._admin_token()}"}
        assert (
            self.client.post(
                f"/api/v1/settlements/{sid}/paid", json={"reference": f"P{sid}"}, headers=headers
            ).status_code
            == 200
        )
        again = self.client.post(
            f"/api/v1/settlements/{sid}/paid", json={"reference": "twice"}, headers=headers
        )
        assert again.get_json()["error"]["code"] == "SETTLEMENT_ALREADY_PAID"
        self.paid.append(sid)

    @rule(k=st.integers(0, 50))
    def retry(self, k):
        """Same key, same body: the stored response, whatever happened since; nothing changes."""
        if not self.keys:
            return
        key = sorted(self.keys)[k % len(self.keys)]
        clerk, path, body, status, response = self.keys[key]
        assert self._post(path, clerk, body, key) == (status, response)

    @rule(k=st.integers(0, 50))
    def replay_other_body(self, k):
        """Same key, another body: IDEMPOTENCY_KEY_REUSED, nothing changes."""
        keyed = sorted(key for key, (_, path, *_) in self.keys.items() if path == "/api/v1/redemptions")
        if not keyed:
            return
        key = keyed[k % len(keyed)]
        clerk, path, body, _, _ = self.keys[key]
        status, response = self._post(path, clerk, {**body, "receipt_ref": "other"}, key)
        assert status == 422 and response["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"

    def _admin_token(self):
        if not hasattr(self, "_admin"):
            now = utcnow()
            with self.sessions.begin() as s:
                admin = User(username="machine-admin", password_hash="-", role="admin", created_at=now)
                s.add(admin)
                s.flush()
                self._admin = f"cl_machine_admin_{uuid.uuid4().hex}"
                s.add(
                    ApiToken(
                        user_id=admin.id,
                        token_hash=hash_token(self._admin),
                        prefix=self._admin[:10],
                        created_at=now,
                    )
                )
        return self._admin

    # ---- invariants ----
    @invariant()
    def database_invariants_hold(self):
        if not hasattr(self, "engine"):
            return
        with self.sessions() as s:
            assert run_checks(s) == []

    @invariant()
    def balances_match_the_model(self):
        if not hasattr(self, "engine"):
            return
        now = utcnow() + timedelta(seconds=1)
        with self.sessions() as s:
            for kind, ref in (
                [("store", x) for x in self.stores]
                + [("clerk", x) for x in self.clerks]
                + [("campaign", self.campaign)]
            ):
                balance = ledger.balance(s, ledger.Account(kind, ref), now)
                assert balance.total == self.total.get((kind, ref), 0), (kind, ref)
                assert balance.held == 0
                if kind != "campaign":
                    assert balance.settled == self.settled.get((kind, ref), 0), (kind, ref)
            redeemed = set(s.execute(select(Voucher.code).where(Voucher.status == "redeemed")).scalars())
            assert redeemed == set(self.live)


@pytest.fixture(scope="module")
def template(_sqlite_template):
    """The migrated SQLite file tests/conftest.py builds once per run; each example copies it."""
    return _sqlite_template


def test_redemption_state_machine(template, tmp_path_factory):
    machine = type("Machine", (RedemptionMachine,), {"TEMPLATE": template, "TMP": tmp_path_factory})
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=20, stateful_step_count=25, deadline=None, suppress_health_check=list(HealthCheck)
        ),
    )
