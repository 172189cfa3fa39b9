"""Stores, their owners and clerks: create, list, deactivate, and bulk import (all or nothing)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from server.errors import DomainError, validation
from server.formats import is_id
from server.models import ApiToken, AuditLog, Store, User
from server.regions import regions
from server.services.accounts import create_user

STORE_FIELDS = ("name", "province", "city", "address", "lat", "lng", "owner")
CLERK_FIELDS = ("username", "password", "store", "display_name")
MAX_IMPORT_ROWS = 20_000
POS_USER_PREFIX = "pos.store"  # a store's POS service account (see pos_token): never a person, never an owner


def _text(values: dict, name: str, limit: int, required: bool = False) -> str:
    value = values.get(name)
    value = "" if value is None else str(value).strip()
    if required and not value:
        raise validation(f"{name} is required", f"{name} 为必填项", field=name)
    if len(value) > limit:
        raise validation(f"{name} is longer than {limit} characters", f"{name} 超过 {limit} 个字", field=name)
    if not value.isprintable():
        raise validation(f"{name} contains control characters", f"{name} 含有控制字符", field=name)
    return value


def _coordinate(values: dict, name: str, bound: float) -> float | None:
    raw = values.get(name)
    if raw is None or str(raw).strip() == "":
        return None
    try:
        number = float(raw)
    except (TypeError, ValueError):
        raise validation(f"{name} must be a number", f"{name} 须为数字", field=name) from None
    if not -bound <= number <= bound:
        raise validation(
            f"{name} must be between -{bound:g} and {bound:g}",
            f"{name} 须在 -{bound:g} 到 {bound:g} 之间",
            field=name,
        )
    return number


def _owner_id(session: Session, owner) -> int | None:
    if owner in (None, ""):
        return None
    if isinstance(owner, int) and not is_id(owner):
        raise validation(
            f"owner {owner!r} is not a store owner's username", f"{owner} 不是店主账号", field="owner"
        )
    q = (
        select(User).where(User.id == owner)
        if isinstance(owner, int)
        else select(User).where(User.username == _text({"owner": owner}, "owner", 80))
    )
    user = session.execute(q).scalar()
    if user is None or user.role != "owner" or is_pos_user(user):
        raise validation(
            f"owner {owner!r} is not a store owner's username", f"{owner} 不是店主账号", field="owner"
        )
    return user.id


def create_store(session: Session, *, values: dict, now: datetime, actor_id: int | None = None) -> Store:
    """A store from name, province, city, address, lat, lng and owner (an owner's username or id)."""
    province, city = store_place(_text(values, "province", 50), _text(values, "city", 50))
    store = Store(
        name=_text(values, "name", 200, required=True),
        province=province,
        city=city,
        address=_text(values, "address", 300),
        lat=_coordinate(values, "lat", 90),
        lng=_coordinate(values, "lng", 180),
        owner_id=_owner_id(
            session, values.get("owner") if values.get("owner") not in (None, "") else values.get("owner_id")
        ),
        created_at=now,
    )
    session.add(store)
    session.flush()
    session.add(
        AuditLog(
            at=now,
            actor_id=actor_id,
            action="store.create",
            object_type="store",
            object_id=store.id,
            details={"name": store.name},
        )
    )
    return store


def store_place(province: str, city: str) -> tuple[str, str]:
    """A store's province and city as the canonical names (深圳 → 深圳市, with 广东省 filled in),
    so they match scans' places; a name not on the list is refused with the nearest ones."""
    found = regions()
    region = found.province(province) if province else None
    if province and region is None:
        raise _unknown_place("province", province, found.nearest(province))
    town = found.city(city, region) if city else None
    if city and town is None:
        raise _unknown_place("city", city, found.nearest(city))
    if region is None and town is not None:
        region = found.provinces[town.province]
    return (region.name if region else ""), (town.name if town else "")


def _unknown_place(field: str, name: str, nearest: list[str]):
    return validation(
        f"unknown {field} {name!r}" + (f"; did you mean {', '.join(nearest)}?" if nearest else ""),
        f"未知的{'省份' if field == 'province' else '城市'}「{name}」"
        + (f"，是否为：{'、'.join(nearest)}？" if nearest else ""),
        field=field,
        nearest=nearest,
    )


def _store_ref(session: Session, ref) -> int:
    """A store named by id (number) or exact name."""
    if isinstance(ref, int) or (isinstance(ref, str) and ref.strip().isdigit()):
        store = session.get(Store, int(ref)) if is_id(int(ref)) else None
    else:
        name = _text({"store": ref}, "store", 200, required=True)
        store = session.execute(select(Store).where(Store.name == name)).scalars().first()
    if store is None:
        raise validation(f"no store {ref!r}", f"门店 {ref} 不存在", field="store")
    return store.id


def create_clerk(
    session: Session,
    *,
    values: dict,
    now: datetime,
    promo_for: Callable[[int], str],
    actor_id: int | None = None,
) -> User:
    """A clerk of a store with a login and a hashids promo code (导购码)."""
    store_id = _store_ref(
        session, values.get("store") if values.get("store") not in (None, "") else values.get("store_id")
    )
    user = create_user(
        session,
        username=_text(values, "username", 80, required=True),
        password=str(values.get("password") or ""),
        role="clerk",
        now=now,
        store_id=store_id,
        display_name=_text(values, "display_name", 120),
    )
    user.promo_code = promo_for(user.id)
    session.add(
        AuditLog(
            at=now,
            actor_id=actor_id,
            action="clerk.create",
            object_type="user",
            object_id=user.id,
            details={"store_id": store_id},
        )
    )
    session.flush()
    return user


def deactivate(session: Session, *, user_id: int, now: datetime, actor_id: int | None = None) -> User:
    """End a clerk's or owner's access at once: inactive, every session refused (session_version bumped),
    tokens revoked. Admins are not deactivated here (no one locks the brand out by a mis-click)."""
    user = session.get(User, user_id) if is_id(user_id) else None
    if user is None or user.role == "admin":
        raise DomainError("NOT_FOUND", what="clerk", id=user_id)
    session.execute(
        update(User).where(User.id == user_id).values(active=False, session_version=User.session_version + 1)
    )
    revoked = session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    ).rowcount
    session.add(
        AuditLog(
            at=now,
            actor_id=actor_id,
            action="user.deactivate",
            object_type="user",
            object_id=user_id,
            details={"tokens_revoked": revoked},
        )
    )
    session.flush()
    session.refresh(user)
    return user


def pos_token(
    session: Session, *, store_id: int, now: datetime, name: str = "POS", actor_id: int | None = None
) -> tuple[str, ApiToken]:
    """A bearer token for a till system, bound to one store. It belongs to the store's POS service user
    (role owner, owning no store, no usable password): it can redeem and reverse for that store and
    nothing else — never an admin's powers on a till PC. The plain token is returned once."""
    import secrets

    from werkzeug.security import generate_password_hash

    from server.services.accounts import create_token

    if not is_id(store_id) or session.get(Store, store_id) is None:
        raise DomainError("NOT_FOUND", what="store", id=store_id)
    username = f"{POS_USER_PREFIX}{store_id}"
    user = session.execute(select(User).where(User.username == username)).scalar()
    if user is None:
        user = User(
            username=username,
            display_name=f"POS {store_id}",
            role="owner",
            created_at=now,
            password_hash=generate_password_hash(secrets.token_urlsafe(32)),
        )
        session.add(user)
        session.flush()
    plain, token = create_token(
        session, user=user, store_id=store_id, now=now, name=_text({"name": name}, "name", 120) or "POS"
    )
    session.add(
        AuditLog(
            at=now,
            actor_id=actor_id,
            action="token.create",
            object_type="store",
            object_id=store_id,
            details={"token_id": token.id, "prefix": token.prefix},
        )
    )
    session.flush()
    return plain, token


def stores(session: Session) -> list[Store]:
    return list(session.execute(select(Store).order_by(Store.id)).scalars())


def is_pos_user(user: User) -> bool:
    return user.role == "owner" and user.username.startswith(POS_USER_PREFIX)


def owners(session: Session) -> list[User]:
    """Store owners who are people (not a store's POS service account), by username."""
    q = select(User).where(User.role == "owner", User.active.is_(True)).order_by(User.username)
    return [u for u in session.execute(q).scalars() if not is_pos_user(u)]


def names(session: Session, user_ids) -> dict[int, str]:
    """id → what a page shows for a staff member: their display name, else their username."""
    ids = {i for i in user_ids if i}
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.display_name, User.username).where(User.id.in_(ids)))
    return {i: display or username for i, display, username in rows}


def clerks(session: Session, store_id: int | None = None) -> list[User]:
    q = select(User).where(User.role == "clerk").order_by(User.id)
    if store_id is not None:
        q = q.where(User.store_id == store_id)
    return list(session.execute(q).scalars())


def store_json(store: Store) -> dict:
    return {
        "id": store.id,
        "name": store.name,
        "province": store.province,
        "city": store.city,
        "address": store.address,
        "lat": store.lat,
        "lng": store.lng,
        "owner_id": store.owner_id,
        "active": store.active,
    }


def clerk_json(user: User) -> dict:
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "store_id": user.store_id,
        "promo_code": user.promo_code,
        "active": user.active,
    }


# ---- bulk import -------------------------------------------------------------------------------------------


@dataclass
class ImportReport:
    kind: str
    rows: int = 0
    created: list[int] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)  # {"row": n (1 = header), "field": …, "message": …}


def read_table(filename: str, data: bytes) -> list[dict]:
    """Rows of a CSV (UTF-8, BOM tolerated) or XLSX upload as dicts keyed by the lowercased header."""
    name = (filename or "").lower()
    if name.endswith(".xlsx"):
        from openpyxl import load_workbook

        try:
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a bad file
            raise validation(
                f"not a readable XLSX file ({type(exc).__name__})", "无法读取该 XLSX 文件", field="file"
            ) from None
        rows = [["" if v is None else v for v in row] for row in book.active.iter_rows(values_only=True)]
        book.close()
    elif name.endswith(".csv") or not name:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise validation("the CSV file must be UTF-8", "CSV 文件须为 UTF-8 编码", field="file") from None
        rows = list(csv.reader(io.StringIO(text)))
    else:
        raise validation("upload a .csv or .xlsx file", "请上传 .csv 或 .xlsx 文件", field="file")
    rows = [r for r in rows if any(str(v).strip() for v in r)]
    if len(rows) < 2:
        raise validation(
            "the file needs a header row and at least one data row",
            "文件须有表头和至少一行数据",
            field="file",
        )
    if len(rows) > MAX_IMPORT_ROWS + 1:
        raise validation(
            f"at most {MAX_IMPORT_ROWS} rows per import", f"每次最多导入 {MAX_IMPORT_ROWS} 行", field="file"
        )
    header = [str(h).strip().lower() for h in rows[0]]
    out = []
    for row in rows[1:]:
        values = {}
        for key, value in zip(header, row, strict=False):
            if isinstance(value, float) and value.is_integer() and key not in ("lat", "lng"):
                value = int(value)
            values[key] = value.strip() if isinstance(value, str) else value
        out.append(values)
    return out


def import_rows(
    session: Session,
    *,
    kind: str,
    rows: list[dict],
    now: datetime,
    promo_for: Callable[[int], str],
    actor_id: int | None = None,
) -> ImportReport:
    """Create every row or none: each row in a savepoint so all errors are reported; any error raises
    IMPORT_FAILED (the caller rolls back) with the per-row report in the details."""
    if kind not in ("stores", "clerks"):
        raise validation("kind must be stores or clerks", "类型须为门店或导购", field="kind")
    report = ImportReport(kind=kind, rows=len(rows))
    needed = {"stores": ("name",), "clerks": ("username", "password", "store")}[kind]
    missing = [h for h in needed if rows and h not in rows[0]]
    if missing:
        raise validation(
            f"missing columns: {', '.join(missing)}", f"缺少列：{', '.join(missing)}", field="file"
        )
    # a write first: SQLite's driver only opens its transaction at the first write, and a SAVEPOINT
    # taken outside one would be committed by its RELEASE — the import must stay all or nothing
    session.add(
        AuditLog(
            at=now,
            actor_id=actor_id,
            action=f"import.{kind}",
            object_type=kind[:-1],
            object_id=None,
            details={"rows": len(rows)},
        )
    )
    session.flush()
    for number, values in enumerate(rows, start=2):
        try:
            with session.begin_nested():
                if kind == "stores":
                    report.created.append(create_store(session, values=values, now=now, actor_id=actor_id).id)
                else:
                    report.created.append(
                        create_clerk(
                            session, values=values, now=now, promo_for=promo_for, actor_id=actor_id
                        ).id
                    )
        except DomainError as exc:
            report.errors.append(
                {
                    "row": number,
                    "field": exc.details.get("field", ""),
                    "message": exc.message("en"),
                    "message_zh": exc.message("zh_CN"),
                }
            )
    if report.errors:
        raise DomainError(
            "IMPORT_FAILED", count=len(report.errors), errors=report.errors[:200], rows=report.rows
        )
    return report
