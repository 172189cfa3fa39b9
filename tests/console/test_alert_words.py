"""The console tells each alert in the reader's language, from the evidence its rule keeps."""

from __future__ import annotations

import pytest

from server.models import Alert
from server.services.alerts.rules import RULES
from server.views.alert_words import TELLERS, alert_summary

SCAN = {"province": "上海市", "city": "上海市"}
EVIDENCE = {
    "geo_velocity": {
        "scans": [SCAN, {"province": "北京市", "city": None}],
        "distance_km": 1068.2,
        "minutes": 30,
    },
    "diversion": {"province": "江苏省", "intended_regions": ["上海市", "浙江省"]},
    "sessions_per_code": {"consumers": 12},
    "enumeration": {"scope": "net", "peak_per_minute": 240},
    "clerk_self_dealing": {"how": "redeemed at their till", "shared": ["device", "net"]},
    "clerk_burst": {"what": "claims", "count": 40, "window_minutes": 10},
    "store_spike": {"redemptions": 90, "day": "2026-12-01", "baseline_per_day": 4.25},
    "referral_loop": {"friend_voucher": "V8K2M4", "shared": ["network", "mutual"]},
}
ZH = {
    "geo_velocity": "上海市 → 北京市：30 分钟内相距 1068 公里",
    "diversion": "华东：在江苏省被扫，应销往上海市、浙江省",
    "sessions_per_code": "12 人扫了同一个码",
    "enumeration": "一分钟内来自同一网段的伪码 240 个",
    "clerk_self_dealing": "在导购的收银台核销，用的是导购本人的设备、网络",
    "clerk_burst": "10 分钟内领券 40 次",
    "store_spike": "2026-12-01 核销 90 次（平时每天 4.2 次）",
    "referral_loop": "好友券 V8K2M4：网络、互相分享与分享者相同",
}


def test_every_rule_has_a_teller():
    assert set(TELLERS) == {rule.NAME for rule in RULES} == set(EVIDENCE)


@pytest.mark.parametrize("kind", sorted(EVIDENCE))
def test_summary_in_chinese_and_english(app, kind):
    alert = Alert(kind=kind, distributor="华东", details={"summary": "stored", **EVIDENCE[kind]})
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert alert_summary(alert) == ZH[kind]
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert alert_summary(alert) not in ("stored", ZH[kind])


def test_an_alert_without_its_evidence_shows_its_stored_summary(app):
    alert = Alert(kind="diversion", details={"summary": "2 scans outside 上海市"})
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert alert_summary(alert) == "2 scans outside 上海市"
