"""Every refusal a person can be shown is a sentence in the page's language, never a raw error code: the whole
error catalogue through the error page in zh-CN and en, the code-check pages, and HTTP errors on pages."""

from __future__ import annotations

import html as html_lib
import re
import string

import pytest

from server.errors import CATALOGUE, DomainError, Localised
from server.models import BatchRange
from server.services.referrals import SELF_RULES
from tests.consumer.conftest import build_world

# the details each templated message is filled from, as the code that raises it gives them
EXAMPLES = {
    "LIMIT_PER_CONSUMER": dict(limit=3),
    "ALERT_ALREADY_DECIDED": dict(id=7, status=Localised(zh_CN="已确认", en="confirmed")),
    "REFERRAL_SELF": dict(why="device", rule=SELF_RULES["device"]),
    "VOUCHER_ALREADY_REDEEMED": dict(redeemed_at="2026-05-01 10:00", store="静安旗舰店"),
    "VOUCHER_EXPIRED": dict(expires_at="2026-05-01 10:00"),
    "MIN_SPEND_NOT_MET": dict(min_spend="20.00"),
    "REVERSAL_WINDOW_CLOSED": dict(minutes=30),
    "REDEMPTION_ALREADY_REVERSED": dict(reversed_at="2026-05-01 10:00"),
    "SETTLEMENT_ALREADY_PAID": dict(paid_at="2026-05-01 10:00", reference="T-1"),
    "IMPORT_FAILED": dict(count=2),
    "ACCOUNT_LOCKED": dict(until="2026-05-01 10:00"),
    "VALIDATION_FAILED": dict(reason=Localised(zh_CN="请输入或扫描券码", en="enter or scan a voucher code")),
}
API_ONLY_WORDS = {"Idempotency-Key"}  # a header's name is the same in every language
CJK = re.compile(r"[\u4e00-\u9fff]")
WORD = re.compile(r"[A-Za-z][A-Za-z-]{3,}")


def visible_text(page: str) -> str:
    """What a person reads: the body without tags and attributes (a data-error attribute is for scripts)."""
    body = page.split("<body>", 1)[1]
    return html_lib.unescape(re.sub(r"<[^>]+>", " ", body))


def assert_a_sentence_in(language: str, text: str, code: str) -> None:
    assert code not in text and "{" not in text, text
    assert not re.search(r"\b[A-Z]{2,}_[A-Z_]+\b", text), text  # no error code of any kind
    if language == "zh":
        assert CJK.search(text), text
        assert not set(WORD.findall(text)) - API_ONLY_WORDS, text
    else:
        assert not CJK.search(text.replace("静安旗舰店", "")), text
        assert text.strip()[0] in string.ascii_uppercase


def test_every_placeholder_has_an_example():
    for code, (_, zh, en) in CATALOGUE.items():
        names = {n for _, n, _, _ in string.Formatter().parse(zh + en) if n}
        assert names <= set(EXAMPLES.get(code, {})), (code, names)


@pytest.fixture
def boom(app):
    @app.get("/boom/<code>")
    def _boom(code):
        raise DomainError(code, **EXAMPLES.get(code, {}))

    return app.test_client()


@pytest.mark.parametrize("code", sorted(CATALOGUE))
@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_error_page_says_the_sentence_not_the_code(boom, code, language):
    page = boom.get(f"/boom/{code}", headers={"Accept-Language": "zh-CN" if language == "zh" else "en"})
    assert page.status_code == CATALOGUE[code][0] and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    message = DomainError(code, **EXAMPLES.get(code, {})).message("zh_CN" if language == "zh" else "en")
    text = visible_text(html)
    assert message in text and f'data-error="{code}"' in html
    assert_a_sentence_in(language, text, code)
    assert html_lib.unescape(re.search(r"<title>(.*)</title>", html).group(1)) == message


@pytest.mark.parametrize(
    "serial, code", [(1, "CODE_INVALID"), (950, "CODE_INACTIVE"), (960, "CODE_BLACKLISTED")]
)
@pytest.mark.parametrize("language", ["zh", "en"])
def test_code_check_pages_say_the_sentence_not_the_code(app, client, serial, code, language):
    world = build_world(app, activate=False)
    with world.session() as s:  # 0-949 shipped, 960 withdrawn, the rest not shipped yet
        s.add_all(
            [
                BatchRange(batch_id=world.batch_id, kind="activate", first_serial=0, last_serial=949),
                BatchRange(batch_id=world.batch_id, kind="blacklist", first_serial=960, last_serial=960),
            ]
        )
        s.commit()
    text = world.code(serial)
    if code == "CODE_INVALID":  # one character changed: a forgery
        text = text[:-1] + ("0" if text[-1] != "0" else "1")
    page = client.get(f"/S/{text}", headers={"Accept-Language": "zh-CN" if language == "zh" else "en"})
    html = page.get_data(as_text=True)
    assert f'data-error="{code}"' in html, html
    assert_a_sentence_in(language, visible_text(html), code)


@pytest.mark.parametrize("language", ["zh", "en"])
def test_http_errors_on_pages_are_sentences_too(client, language):
    headers = {"Accept-Language": "zh-CN" if language == "zh" else "en"}
    for method, path, status in (
        ("get", "/" + "x" * 5000, 404),
        ("get", "/no/such/page", 404),
        ("post", "/S/ABC/claim", 400),  # no CSRF token: the page has expired
        ("delete", "/me/phone", 405),
    ):
        page = getattr(client, method)(path, headers=headers)
        assert page.status_code == status and page.mimetype == "text/html"
        assert_a_sentence_in(language, visible_text(page.get_data(as_text=True)), "VALIDATION_FAILED")
