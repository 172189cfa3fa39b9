"""Domain errors: a stable code (listed in docs/api.md), an HTTP status and a message in zh-CN and en.

Services raise these; views and the API turn them into pages or JSON in one place.
"""

from __future__ import annotations

from typing import Any

# code -> (HTTP status, zh-CN, en); messages are str.format templates over the error's details
CATALOGUE: dict[str, tuple[int, str, str]] = {
    "CODE_INVALID": (
        404,
        "这不是有效的防伪码，请核对后重试。",
        "This is not a valid product code. Please check it and try again.",
    ),
    "CODE_INACTIVE": (
        409,
        "该码尚未激活，请向商家核实。",
        "This code has not been activated yet. Please check with the seller.",
    ),
    "CODE_BLACKLISTED": (
        410,
        "该码已被停用，谨防假冒。",
        "This code has been withdrawn. Beware of counterfeits.",
    ),
    "CODE_ALREADY_CLAIMED": (
        409,
        "该商品的优惠券已被领取。",
        "The voucher for this pack has already been claimed.",
    ),
    "CODE_NOT_CLAIMABLE": (
        409,
        "这是外包装上的验真码，仅用于查询真伪；请扫描盖内（刮开）的码领取优惠。",
        "This outer code only checks authenticity; scan the code inside the pack to claim.",
    ),
    "CAMPAIGN_NOT_ACTIVE": (409, "活动未开始或已结束。", "The campaign has not started or has ended."),
    "CAMPAIGN_EXHAUSTED": (
        409,
        "本次活动的优惠券已领完。",
        "All vouchers for this campaign have been claimed.",
    ),
    "LIMIT_PER_CONSUMER": (
        429,
        "今日领取次数已达上限（{limit} 张）。",
        "You have reached today's limit of {limit} vouchers.",
    ),
    "REFERRAL_SELF": (403, "不能领取这张好友券：{rule}", "You cannot claim this friend voucher: {rule}"),
    "REFERRAL_NOT_FOUND": (
        404,
        "找不到该分享链接，请向好友确认。",
        "This share link does not exist. Please check it with your friend.",
    ),
    "REFERRAL_EXHAUSTED": (409, "该分享链接的名额已用完。", "This share link has been used up."),
    "VOUCHER_NOT_FOUND": (404, "找不到该优惠券，请核对券码。", "Voucher not found. Please check the code."),
    "VOUCHER_ALREADY_REDEEMED": (
        409,
        "该券已于 {redeemed_at} 在 {store} 核销。",
        "This voucher was already redeemed at {store} on {redeemed_at}.",
    ),
    "VOUCHER_EXPIRED": (409, "该券已于 {expires_at} 过期。", "This voucher expired on {expires_at}."),
    "VOUCHER_TOKEN_EXPIRED": (
        409,
        "二维码已过期，请让顾客刷新券页面。",
        "This QR has expired: ask the customer to refresh the voucher page.",
    ),
    "MIN_SPEND_NOT_MET": (
        409,
        "消费满 {min_spend} 元方可使用。",
        "This voucher needs a purchase of at least ¥{min_spend}.",
    ),
    "STORE_NOT_ALLOWED": (403, "该券不能在本店使用。", "This voucher cannot be used in this store."),
    "IDEMPOTENCY_KEY_REUSED": (
        422,
        "同一个 Idempotency-Key 用于了不同的请求。",
        "This Idempotency-Key was used for a different request.",
    ),
    "REQUEST_IN_PROGRESS": (
        409,
        "相同请求正在处理中，请稍后重试。",
        "The same request is still being processed; retry shortly.",
    ),
    "REVERSAL_WINDOW_CLOSED": (
        409,
        "已超过 {minutes} 分钟撤销时限，不能撤销。",
        "The {minutes}-minute window for reversing this redemption has closed.",
    ),
    "REDEMPTION_ALREADY_REVERSED": (
        409,
        "该核销已于 {reversed_at} 撤销。",
        "This redemption was already reversed on {reversed_at}.",
    ),
    "SETTLEMENT_ALREADY_PAID": (
        409,
        "该结算单已于 {paid_at} 付款（{reference}）。",
        "This statement was already paid on {paid_at} ({reference}).",
    ),
    "ALERT_ALREADY_DECIDED": (
        409,
        "该警报已处理（{status}），不能再次处理。",
        "This alert has already been decided ({status}).",
    ),
    "IMPORT_FAILED": (
        400,
        "导入失败：{count} 行有错误，未导入任何数据。",
        "Import failed: {count} rows have errors; nothing was imported.",
    ),
    "RATE_LIMITED": (429, "操作太频繁，请稍后再试。", "Too many requests; please try again shortly."),
    "FORBIDDEN": (403, "您没有权限执行此操作。", "You are not allowed to do this."),
    "UNAUTHORIZED": (
        401,
        "请先登录，或用户名与密码不匹配。",
        "Please sign in (or the username and password do not match).",
    ),
    "ACCOUNT_LOCKED": (
        423,
        "登录失败次数过多，账号已锁定至 {until}。",
        "Too many failed sign-ins: the account is locked until {until}.",
    ),
    "NOT_FOUND": (
        404,
        "找不到该页面或对象，请检查链接。",
        "This page or item does not exist; please check the link.",
    ),
    "VALIDATION_FAILED": (400, "输入有误：{reason}", "Invalid input: {reason}"),
    "METHOD_NOT_ALLOWED": (
        405,
        "此地址不接受这种请求。",
        "This address does not accept that kind of request.",
    ),
    "LEDGER_KEY_REUSED": (
        409,
        "同一记账键用于了不同的分录。",
        "A ledger key was reused for different entries.",
    ),
    "INTERNAL_ERROR": (
        500,
        "服务器出错了，请稍后再试。",
        "Something went wrong on our side; please try again.",
    ),
}

LANGUAGES = ("zh_CN", "en")


class DomainError(Exception):
    """A refusal with a stable code; changes nothing (the caller rolls back)."""

    def __init__(self, code: str, **details: Any) -> None:
        if code not in CATALOGUE:
            raise KeyError(f"unknown error code {code}")
        super().__init__(code)
        self.code = code
        self.details = details

    @property
    def status(self) -> int:
        return CATALOGUE[self.code][0]

    def message(self, language: str = "zh_CN") -> str:
        """The message in `language` (zh_CN or en), filled from the details."""
        _, zh, en = CATALOGUE[self.code]
        template = en if language.startswith("en") else zh
        try:
            return template.format(**{k: _localise(v, language) for k, v in self.details.items()})
        except (KeyError, IndexError):
            return template.split("{")[0].rstrip(" ：:（(") or template

    def to_json(self, language: str = "zh_CN") -> dict:
        details = {
            k: (v if isinstance(v, (int, float, str, bool, type(None), list, dict)) else str(v))
            for k, v in ((k, _localise(v, language)) for k, v in self.details.items())
        }
        return {"error": {"code": self.code, "message": self.message(language), "details": details}}


class Localised(dict):
    """A detail worded per language, {"zh_CN": …, "en": …}: shown in the reader's language."""

    def text(self, language: str) -> str:
        """The wording in `language` (zh_CN or en)."""
        return self.get("en" if language.startswith("en") else "zh_CN", "")


def _localise(value: Any, language: str) -> Any:
    return value.text(language) if isinstance(value, Localised) else value


def validation(reason: str, zh: str | None = None, **details: Any) -> DomainError:
    """VALIDATION_FAILED with its reason in English and, when given, Chinese."""
    return DomainError(
        "VALIDATION_FAILED", reason=Localised(zh_CN=zh, en=reason) if zh else reason, **details
    )
