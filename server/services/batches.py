"""Batches of pack codes and their serial ranges (activated when shipped, blacklisted when lost)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from codegen.codes import MAX_BATCH
from codegen.spec import BatchSpec
from codegen.urls import UrlTemplate
from server.db import is_postgres
from server.errors import DomainError, validation
from server.models import MAX_BATCH_QUANTITY, AuditLog, Batch, BatchRange, Campaign, Product
from server.regions import regions

MAX_REGIONS = 40


def create_batch(
    session: Session,
    *,
    product_id: int,
    campaign_id: int,
    quantity: int,
    now: datetime,
    paired: bool = False,
    note: str = "",
    actor_id: int | None = None,
) -> Batch:
    """One row for N codes; the URL form comes from the product (GS1 when it has a GTIN and asks for it)."""
    if type(quantity) is not int or not 1 <= quantity <= MAX_BATCH_QUANTITY:
        raise validation(
            f"quantity must be a whole number from 1 to {MAX_BATCH_QUANTITY:,}",
            zh=f"数量须为 1 到 {MAX_BATCH_QUANTITY:,} 之间的整数",
            field="quantity",
            limit=MAX_BATCH_QUANTITY,
        )
    product = session.get(Product, product_id) if type(product_id) is int else None
    if product is None:
        raise validation(f"no product {product_id}", zh=f"商品 {product_id} 不存在", field="product_id")
    if (session.get(Campaign, campaign_id) if type(campaign_id) is int else None) is None:
        raise validation(f"no campaign {campaign_id}", zh=f"活动 {campaign_id} 不存在", field="campaign_id")
    batch = Batch(
        product_id=product.id,
        campaign_id=campaign_id,
        quantity=quantity,
        paired=bool(paired),
        url_form=product.url_form,
        note=(note or "")[:500],
        created_at=now,
        created_by=actor_id,
    )
    session.add(batch)
    session.flush()
    if batch.id > MAX_BATCH:  # the code format carries 20 bits of batch number
        raise validation(
            f"this deployment has used all {MAX_BATCH:,} batch numbers",
            zh=f"本系统的 {MAX_BATCH:,} 个批次号已用完",
        )
    _audit(session, now, actor_id, "batch.create", batch.id, quantity=quantity, paired=bool(paired))
    return batch


def get_batch(session: Session, batch_id: int) -> Batch:
    batch = session.get(Batch, batch_id) if type(batch_id) is int else None
    if batch is None:
        raise DomainError("NOT_FOUND", what="batch", id=batch_id)
    return batch


@dataclass(frozen=True)
class RangeRequest:
    first_serial: int
    last_serial: int
    distributor: str | None = None
    regions: tuple[str, ...] = ()
    reason: str | None = None


def add_range(
    session: Session,
    *,
    batch_id: int,
    kind: str,
    request: RangeRequest,
    now: datetime,
    actor_id: int | None = None,
) -> BatchRange:
    """Activate or blacklist serials first..last (inclusive); ranges of one kind never overlap."""
    batch = _locked_batch(session, batch_id)
    first, last = request.first_serial, request.last_serial
    if type(first) is not int or type(last) is not int or not 0 <= first <= last < batch.quantity:
        raise validation(
            f"serials must satisfy 0 ≤ first ≤ last < {batch.quantity}",
            zh=f"序号须满足 0 ≤ 起始 ≤ 结束 < {batch.quantity}",
            field="serials",
            first=first,
            last=last,
            quantity=batch.quantity,
        )
    _check_range_text(kind, request)
    regions = canonical_regions(request.regions)
    overlap = session.execute(
        select(BatchRange)
        .where(
            BatchRange.batch_id == batch.id,
            BatchRange.kind == kind,
            BatchRange.first_serial <= last,
            BatchRange.last_serial >= first,
        )
        .limit(1)
    ).scalar()
    if overlap is not None:
        raise validation(
            f"serials {first}-{last} overlap the {kind} range {overlap.first_serial}-{overlap.last_serial}",
            zh=f"序号 {first}-{last} 与已有号段 {overlap.first_serial}-{overlap.last_serial} 重叠",
            field="serials",
            overlaps=overlap.id,
        )
    row = BatchRange(
        batch_id=batch.id,
        kind=kind,
        first_serial=first,
        last_serial=last,
        created_at=now,
        distributor=request.distributor,
        regions=regions,
        reason=request.reason,
        created_by=actor_id,
    )
    session.add(row)
    session.flush()
    _audit(
        session,
        now,
        actor_id,
        f"batch.{kind}",
        batch.id,
        range_id=row.id,
        first=first,
        last=last,
        distributor=request.distributor,
        regions=regions,
        reason=request.reason,
    )
    return row


def canonical_regions(names) -> list[str]:
    """Intended regions as the region list's canonical names (上海 → 上海市, Jiangsu → 江苏省, 南京 → 南京市),
    each once; a name that is not on the list is refused with the list's nearest names."""
    found = regions()
    out = []
    for name in names:
        region = found.resolve(name)
        if region is None:
            nearest = found.nearest(name)
            raise validation(
                f"unknown region {name!r}" + (f"; did you mean {', '.join(nearest)}?" if nearest else ""),
                zh=f"未知的销售区域「{name}」" + (f"，是否为：{'、'.join(nearest)}？" if nearest else ""),
                field="regions",
                region=name,
                nearest=nearest,
            )
        if region.name not in out:
            out.append(region.name)
    return out


def _locked_batch(session: Session, batch_id: int) -> Batch:
    # the batch row lock serialises range changes of one batch, so the overlap check cannot race
    if type(batch_id) is not int:
        raise DomainError("NOT_FOUND", what="batch", id=str(batch_id)[:40])
    stmt = select(Batch).where(Batch.id == batch_id)
    batch = session.execute(stmt.with_for_update() if is_postgres(session) else stmt).scalar()
    if batch is None:
        raise DomainError("NOT_FOUND", what="batch", id=batch_id)
    return batch


def _check_range_text(kind: str, request: RangeRequest) -> None:
    if kind not in ("activate", "blacklist"):
        raise validation("kind must be activate or blacklist", zh="操作须为激活或停用")
    if kind == "blacklist" and not (request.reason or "").strip():
        raise validation("a blacklist needs a reason", zh="停用号段须填写原因", field="reason")
    if len(request.regions) > MAX_REGIONS or any(
        not isinstance(r, str) or not 0 < len(r) <= 40 for r in request.regions
    ):
        raise validation(
            f"regions must be up to {MAX_REGIONS} province or city names",
            zh=f"销售区域最多 {MAX_REGIONS} 个省份或城市名称",
            field="regions",
        )
    for field in ("distributor", "reason"):
        value = getattr(request, field)
        if value is not None and (not isinstance(value, str) or len(value) > 200):
            raise validation(
                f"{field} must be text of at most 200 characters",
                zh=f"{field} 须为不超过 200 字的文字",
                field=field,
            )


def ranges(session: Session, batch_id: int) -> list[BatchRange]:
    return list(
        session.execute(
            select(BatchRange)
            .where(BatchRange.batch_id == batch_id)
            .order_by(BatchRange.kind, BatchRange.first_serial)
        ).scalars()
    )


def batch_spec(batch: Batch, public_url: str) -> BatchSpec:
    """What codegen needs to write this batch's codes: identical on every export (reprints are exact)."""
    product = batch.product
    gtin = product.gtin if batch.url_form == "gs1" else None
    return BatchSpec(
        batch=batch.id,
        quantity=batch.quantity,
        paired=batch.paired,
        urls=UrlTemplate(public_url, batch.url_form, gtin),
        product=product.name,
        gtin14=product.gtin,
        campaign=batch.campaign.name,
        created_at=batch.created_at.isoformat(timespec="seconds"),
    )


def _audit(
    session: Session, now: datetime, actor_id: int | None, action: str, batch_id: int, **details
) -> None:
    session.add(
        AuditLog(
            at=now, actor_id=actor_id, action=action, object_type="batch", object_id=batch_id, details=details
        )
    )


def list_batches(session: Session, limit: int = 500) -> list[Batch]:
    return list(session.execute(select(Batch).order_by(Batch.id.desc()).limit(limit)).scalars())


def iter_images_zip(secret: bytes, spec: BatchSpec, fmt: str):
    """A ZIP of one QR image per code, for batches up to 10,000 codes (rendered to a temp folder)."""
    import tempfile

    from codegen.proof import IMAGE_LIMIT, render_code_images
    from codegen.streams import iter_directory_zip

    if fmt not in ("png", "svg"):
        raise validation("format must be png or svg", zh="格式须为 png 或 svg", field="format")
    if spec.quantity > IMAGE_LIMIT:
        raise validation(
            f"one image per code is offered up to {IMAGE_LIMIT:,} codes; use the CSV package",
            zh=f"每码一图仅限 {IMAGE_LIMIT:,} 个码以内的批次，请使用 CSV 码包",
            field="batch",
            limit=IMAGE_LIMIT,
        )

    def generate():
        with tempfile.TemporaryDirectory(prefix="codeloop-images-") as tmp:
            render_code_images(secret, spec, tmp, fmt=fmt)
            yield from iter_directory_zip(tmp)

    return generate()
