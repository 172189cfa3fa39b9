"""The API's request/response models as the OpenAPI document's single source (spectree + pydantic v2).

`doc(...)` validates a route's query and JSON body with pydantic models and records them, its answers and
its security for /api/v1/openapi.json. A request that does not fit is refused as VALIDATION_FAILED, the
reason naming the field in the reader's language, like every other refusal (server/errors.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError
from spectree import Response, SecurityScheme, SecuritySchemeData, SpecTree

from server.errors import CATALOGUE, DomainError, validation

# who may call a route, as OpenAPI security requirements (see the schemes below)
ADMIN = [{"adminToken": []}]
STAFF = [{"staffToken": []}]
CONSUMER = [{"consumerToken": []}]
CONSUMER_OPTIONAL = [{}, {"consumerToken": []}]
HOLDER_OR_STAFF = [{"consumerToken": []}, {"staffToken": []}]
PUBLIC: list = []

SCHEMES = [
    SecurityScheme(
        name="adminToken",
        data=SecuritySchemeData(
            type="http",
            scheme="bearer",
            description="An admin's API token (`codeloop token create`), or a signed-in admin's session.",
        ),
    ),
    SecurityScheme(
        name="staffToken",
        data=SecuritySchemeData(
            type="http",
            scheme="bearer",
            description="A clerk's, store owner's or admin's API token, or a store's POS token "
            "(POST /stores/{store_id}/tokens); or a signed-in staff session.",
        ),
    ),
    SecurityScheme(
        name="consumerToken",
        data=SecuritySchemeData(
            type="apiKey",
            field_in="header",
            name="X-Consumer-Token",
            description="The token from POST /consumers or GET /scan/{code}; "
            "`Authorization: Consumer <token>` works too.",
        ),
    ),
]


MAX_ID = 2**63 - 1  # ids are BIGINT: larger ones are refused here, at the edge
Id = Annotated[StrictInt, Field(ge=1, le=MAX_ID)]
Int = Annotated[StrictInt, Field(ge=-MAX_ID, le=MAX_ID)]
# query-string values arrive as text: these parse "12" as 12
QueryId = Annotated[int, Field(ge=0, le=MAX_ID)]
QueryInt = Annotated[int, Field(ge=-MAX_ID, le=MAX_ID)]


def text(limit: int, **extra: Any) -> Any:
    """A JSON string of at most `limit` characters."""
    return Annotated[StrictStr, Field(max_length=limit, **extra)]


class ErrorBody(BaseModel):
    code: str = ...
    message: str
    details: dict[str, Any]

    model_config = ConfigDict(
        json_schema_extra=lambda s, _: s["properties"]["code"].update(enum=sorted(CATALOGUE))
    )


class Error(BaseModel):
    """Every refusal: a stable code (one of the catalogue), a message in the reader's language, details."""

    error: ErrorBody


class Loose(BaseModel):
    """A response model: the fields named are documented; an answer may carry more."""

    model_config = ConfigDict(extra="allow")


class Body(BaseModel):
    """A request model; fields it does not name are ignored."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    # field -> (English, Chinese) reason, for fields whose refusal needs its own words
    REFUSALS: ClassVar[dict[str, tuple[str, str]]] = {}


def _expectation(model: type[BaseModel], field: str) -> tuple[str, str]:
    refusals = getattr(model, "REFUSALS", None) or {}
    if field in refusals:
        return refusals[field]
    info = model.model_fields.get(field) or next(
        (f for f in model.model_fields.values() if f.alias == field), None
    )
    text = repr(info.annotation) if info is not None else ""
    if "int" in text:
        low = next((m.ge for m in info.metadata if getattr(m, "ge", None) is not None), None)
        high = next((m.le for m in info.metadata if getattr(m, "le", None) is not None), None)
        if low is not None and high is not None and low >= 0:
            return (
                f"{field} must be a whole number from {low} to {high}",
                f"{field} 须为 {low} 到 {high} 之间的整数",
            )
        return f"{field} must be a whole number", f"{field} 须为整数"
    if "bool" in text:
        return f"{field} must be true or false", f"{field} 须为 true 或 false"
    if "datetime" in text:
        return f"{field} must be an ISO 8601 time with a time zone", f"{field} 须为带时区的 ISO 8601 时间"
    if "list" in text:
        return f"{field} must be a list", f"{field} 须为列表"
    limit = next((m.max_length for m in (info.metadata if info else []) if hasattr(m, "max_length")), None)
    if limit:
        return f"{field} must be text of at most {limit} characters", f"{field} 须为不超过 {limit} 字的文字"
    return f"{field} is not valid", f"{field} 无效"


def refusal(model: type[BaseModel], error: ValidationError) -> DomainError:
    """The VALIDATION_FAILED for a request that did not fit `model`, naming the first field at fault."""
    first = error.errors()[0]
    names = [str(p) for p in first.get("loc", ()) if isinstance(p, str)]
    if not names:
        return validation("the body must be a JSON object", zh="请求体须为 JSON 对象")
    custom = getattr(model, "refuse", None)
    if custom is not None:
        return custom(names[0])
    en, zh = _expectation(model, names[0])
    return validation(en, zh=zh, field=names[0])


_MODELS: dict[str, type[BaseModel]] = {}  # request models by name, to word their refusals


def _refuse(req, resp, req_validation_error, instance, model_adapter=None) -> None:
    """spectree's before-hook: a request that fails its model is refused with the product's envelope."""
    if req_validation_error is not None:
        model = _MODELS.get(getattr(req_validation_error, "title", ""), BaseModel)
        raise refusal(model, req_validation_error)


def valid(part: str = "json") -> Any:
    """The request's validated model instance: part is json, query or headers."""
    from flask import request

    return getattr(request.context, part)


class Documented(Response):
    """Answers documented per status; not re-validated at run time (tests check them: schemathesis)."""

    def find_model(self, code: int):
        return None


SPEC = SpecTree(
    "flask",
    mode="strict",
    annotations=False,
    title="codeloop API",
    version="1.0.0",
    description="One-item-one-code: scans, vouchers, redemptions, payouts. Money is integer fen. "
    "Every refusal answers the Error envelope with a stable code and a localised message "
    "(Accept-Language: zh-CN by default, or en).",
    openapi_version="3.1.0",
    security_schemes=SCHEMES,
    validation_error_status=400,
    validation_error_model=Error,
    before=_refuse,
    naming_strategy=lambda model: model.__name__,  # model names are unique across the schemas_*.py
    nested_naming_strategy=lambda _parent, child: child,
)


def answers(ok: dict[int, Any], errors: Iterable[int]) -> Documented:
    """The documented answers: models (or None: not JSON) per success status, the Error envelope per error."""
    codes = {f"HTTP_{status}": model for status, model in ok.items() if model is not None}
    bare = [f"HTTP_{status}" for status, model in ok.items() if model is None]
    return Documented(*bare, **codes, **{f"HTTP_{status}": Error for status in sorted(set(errors))})


def doc(
    *,
    security: list,
    ok: dict[int, Any],
    errors: Iterable[int] = (),
    query: type[BaseModel] | None = None,
    json: type[BaseModel] | None = None,
    tags: tuple[str, ...] = (),
    headers: type[BaseModel] | None = None,
    form: type[BaseModel] | None = None,
):
    """Validate and document a route: its query/body models, answers, the errors it may answer, security.
    404 (an unknown id or path) and 400 (bad input) are always documented; 401/403 with any security."""
    for model in (query, json, headers, form):
        if model is not None:
            _MODELS[model.__name__] = model
    always = {404, 400, *errors}
    if security and security[0]:
        always |= {401, 403}
    return SPEC.validate(
        query=query,
        json=json,
        headers=headers,
        form=form,
        resp=answers(ok, always),
        tags=tags,
        security=security,
    )
