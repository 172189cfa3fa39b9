"""An alert's one-line summary in the reader's language, told from the facts its rule keeps as evidence.

The rule's own `details.summary` is English, for the API and the logs; the console tells the same facts in
the page's language. An alert whose evidence lacks a fact (raised by an older rule) shows that summary.
"""

from __future__ import annotations

from collections.abc import Callable

from flask_babel import gettext as _

from server.models import Alert


def _place(scan: dict) -> str:
    return scan.get("city") or scan.get("province") or _("an unknown place")


def _words(values: list[str]) -> str:
    names = {
        "device": _("device"),
        "net": _("network"),
        "network": _("network"),
        "phone": _("phone"),
        "mutual": _("mutual referrals"),
    }
    return _(", ").join(names.get(v, v) for v in values)


def _geo_velocity(alert: Alert, d: dict) -> str:
    first, second = d["scans"][0], d["scans"][1]
    return _(
        "%(first)s → %(second)s: %(km)s km in %(minutes)s min",
        first=_place(first),
        second=_place(second),
        km=f"{d['distance_km']:.0f}",
        minutes=f"{d['minutes']:.0f}",
    )


def _diversion(alert: Alert, d: dict) -> str:
    return _(
        "%(distributor)s: scanned in %(province)s, intended for %(regions)s",
        distributor=alert.distributor or "—",
        province=d["province"],
        regions=_(", ").join(d["intended_regions"]),
    )


def _sessions_per_code(alert: Alert, d: dict) -> str:
    return _("%(n)s people scanned one code", n=d["consumers"])


def _enumeration(alert: Alert, d: dict) -> str:
    source = {"ip": _("one address"), "net": _("one network"), "all": _("all addresses")}[d["scope"]]
    return _("%(n)s forged codes in one minute from %(source)s", n=d["peak_per_minute"], source=source)


def _clerk_self_dealing(alert: Alert, d: dict) -> str:
    how = {
        "claimed with their promo code": _("a claim through the clerk's promo code"),
        "redeemed at their till": _("a redemption at the clerk's till"),
    }[d["how"]]
    return _("%(how)s, from the clerk's own %(traces)s", how=how, traces=_words(d["shared"]))


def _clerk_burst(alert: Alert, d: dict) -> str:
    if d["what"] == "claims":
        return _("%(n)s claims in %(minutes)s min", n=d["count"], minutes=d["window_minutes"])
    return _("%(n)s redemptions in %(minutes)s min", n=d["count"], minutes=d["window_minutes"])


def _store_spike(alert: Alert, d: dict) -> str:
    return _(
        "%(n)s redemptions on %(day)s (usually %(baseline)s a day)",
        n=d["redemptions"],
        day=d["day"],
        baseline=f"{d['baseline_per_day']:.1f}",
    )


def _referral_loop(alert: Alert, d: dict) -> str:
    return _(
        "Friend voucher %(voucher)s: same %(ties)s as the sharer",
        voucher=d["friend_voucher"],
        ties=_words(d["shared"]),
    )


TELLERS: dict[str, Callable[[Alert, dict], str]] = {
    "geo_velocity": _geo_velocity,
    "diversion": _diversion,
    "sessions_per_code": _sessions_per_code,
    "enumeration": _enumeration,
    "clerk_self_dealing": _clerk_self_dealing,
    "clerk_burst": _clerk_burst,
    "store_spike": _store_spike,
    "referral_loop": _referral_loop,
}


def tell(alert: Alert) -> str:
    """The alert's summary in the request's language, from its evidence; KeyError if a fact is missing."""
    return TELLERS[alert.kind](alert, alert.details or {})


def alert_summary(alert: Alert) -> str:
    """The alert's summary in the request's language (its stored English one if its evidence falls short)."""
    try:
        return tell(alert)
    except (KeyError, IndexError, TypeError, ValueError):
        return (alert.details or {}).get("summary", "")
