"""`codeloop demo`: the embedded default from nothing to a running, seeded server, and a guided tour."""

from __future__ import annotations

import click

from server.config import Config


def run_demo(*, host: str, port: int, serve: bool) -> None:
    from server.app import create_app
    from server.db import make_engine
    from server.jobs import ENRICH_PENDING, enqueue
    from server.migrate import upgrade
    from server.models import utcnow
    from server.services import claims, demo
    from server.serving import serve_public_url

    config = serve_public_url(Config.from_env(), host, port)  # links, codes and cards point at this server
    upgrade(make_engine(config.database_url))
    app = create_app(config)
    rt = app.extensions["codeloop"]
    terms = claims.Terms(secret=rt.secret, tz=config.tz, hold_days=config.hold_days)
    with rt.sessions.begin() as session:
        info = demo.seed(session, now=utcnow(), keys=demo.Keys(rt.codec, rt.ids, terms))
    enqueue(rt.queue, ENRICH_PENDING)  # place the story's scans (inline, or on the worker with Redis)
    database = rt.engine.url.render_as_string(hide_password=True)
    jobs = "inline" if config.inline_jobs else "on Redis (run `codeloop worker`)"
    click.echo(tour(config.public_url, info, rt.codec, f"database {database}, jobs {jobs}", config.hold_days))
    if serve:
        from server.serving import exec_gunicorn

        rt.engine.dispose()
        exec_gunicorn(config.database_url, host=host, port=port)


def tour(base: str, info: dict, codec, setup: str, hold_days: int) -> str:
    """What `codeloop demo` prints: every account, and for each role what to open and what it shows."""
    from server.services.demo import TOUR_SERIALS

    batch = info["batch_id"]
    pack = {name: f"{base}/S/{codec.encode(batch, serial)}" for name, serial in TOUR_SERIALS.items()}
    forged = codec.encode(batch, 2)
    forged = f"{base}/S/{forged[:-1]}{'0' if forged[-1] != '0' else '1'}"
    (clerk1, store1, promo1), (clerk2, store2, promo2) = info["clerks"][:2]
    (owner1, _), (owner2, _) = info["owners"][:2]
    c = info["campaign"]
    value, least = c.voucher_value_fen // 100, c.voucher_min_spend_fen // 100
    gift, bonus = c.referral_friend_value_fen // 100, c.referral_bonus_points
    return f"""
codeloop demo — {base}
{setup}
Every account's password is {info["password"]}. Pages are in Chinese, or in English for an English browser.

1. The customer (no login: any browser; a phone-sized window shows what a phone sees)
   {base}/C/{promo1}
       {clerk1}'s promo code (导购码), as on the counter card: "欢迎光临 {store1}"; claims in the next
       30 minutes earn {clerk1} a reward
   {pack["genuine"]}
       a genuine pack, first scan: "正品，首次查询" and a ¥{value} voucher (on ¥{least} or more);
       "领取优惠券" opens the voucher: its QR, the code to type at the till, nearby stores and a share link
   the share link, opened in a second (private) window: a friend claims a ¥{gift} voucher of their own;
       when the friend's voucher is redeemed, the sharer's page shows +{bonus} points
   {pack["inactive"]}   a pack not shipped yet: "该码尚未激活"
   {pack["blacklisted"]}   a withdrawn pack: "该码已被停用"
   {forged}   a forged code: "这不是有效的防伪码"

2. The clerk — {base}/clerk
   {clerk1} ({store1}, promo code {promo1}) or {clerk2} ({store2}, promo code {promo2})
   type the customer's voucher code and a purchase of {least} yuan or more: "✓ 已核销 ¥{value}.00", with Undo
   type it again: "✗ 未核销 — 该券已于 … 在 {store1} 核销"; {info["redeemed_voucher"]} was redeemed last week
   below: today's redemptions and the clerk's rewards (held {hold_days} days, then payable)

3. The store owner — {base}/owner
   {owner1} ({store1}): last week's redemptions, their statement paid (DEMO-TRANSFER-0001)
   {owner2} ({store2}): a redemption two days ago, held until the holding period ends

4. The brand manager — {base}/admin/   {info["admin"]}
   概览 Dashboard: a fortnight of scans, claims and redemptions — KPI cards, the funnel, series, the hour ×
       weekday heatmap, provinces and cities, store and clerk leaderboards, referrals, payouts, diversion
   预警 Alerts: the Guangdong and Jiangsu scans of a pack shipped for Shanghai and Beijing (窜货 diversion)
       and the referral claimed from the sharer's network; open one for its evidence, confirm or dismiss
   查码 Code lookup: paste a pack code above for its state, every scan with time and place, its voucher
   批次 Batches: the demo batch — codes.csv, the print package, QR images (PNG or SVG), shipped and lost rolls
   门店 Stores and 导购 Clerks: owners, promo codes and a printable promo card per clerk
   结算 Payouts: last week's statements; "立即结算本期" closes the period (and says so when all newer money is
       still inside the holding period)
   the story behind it: scans in Shanghai, Jiangsu, Beijing and Guangdong (a pack shipped for Shanghai and
       Beijing, scanned in Guangdong), a referral claimed from the sharer's own network

health {base}/healthz · the demo batch's print package, from another terminal in this folder:
   CODELOOP_PUBLIC_URL={base} codeloop batch export {batch} --out ./print-package
"""
