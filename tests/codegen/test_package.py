"""The printer's code package: rolls, manifest, checksums, ZIP stream and codes.csv stream."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from codegen.codes import INNER, OUTER, Codec
from codegen.package import (
    BatchSpec,
    iter_codes_csv,
    iter_package_zip,
    render_code_images,
    write_package,
)
from codegen.streams import iter_directory_zip
from codegen.urls import UrlTemplate

SECRET = b"test-secret-0123456789abcdef"
CODEC = Codec(SECRET)
GTIN = "06901234567892"
PLAIN = BatchSpec(
    batch=17,
    quantity=2_503,
    paired=False,
    urls=UrlTemplate("https://q.brand.cn"),
    product="奶粉 900g <A&B>",
    gtin14=GTIN,
    campaign="spring-2025",
    created_at="2025-03-01T08:00:00+08:00",
)
PAIRED = BatchSpec(
    batch=18,
    quantity=1_200,
    paired=True,
    urls=UrlTemplate("https://q.brand.cn", "gs1", GTIN),
    product="milk",
    gtin14=GTIN,
    campaign="c",
    created_at="2025-03-02T09:30:00",
)


@pytest.fixture(scope="module")
def plain_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, list[int]]:
    out = tmp_path_factory.mktemp("plain")
    seen: list[int] = []
    manifest = write_package(out, SECRET, PLAIN, roll_size=1_000, processes=2, progress=seen.append)
    return out, manifest, seen


@pytest.fixture(scope="module")
def paired_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("paired")
    return out, write_package(out, SECRET, PAIRED, roll_size=500, processes=1, proof_count=6)


def read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    lines = path.read_text("ascii").splitlines()
    return lines[0].split(","), [line.split(",") for line in lines[1:]]


def test_rolls_have_the_right_rows_and_codes(plain_dir: tuple) -> None:
    out, manifest, _ = plain_dir
    names = sorted(p.name for p in out.glob("roll-*.csv"))
    assert names == ["roll-00001.csv", "roll-00002.csv", "roll-00003.csv"]
    all_rows = []
    for name, expected in zip(names, (1000, 1000, 503), strict=True):
        header, rows = read_rows(out / name)
        assert header == ["seq", "serial", "code", "url"] and len(rows) == expected
        all_rows += rows
    assert [int(r[0]) for r in all_rows] == list(range(1, 2504))
    assert [int(r[1]) for r in all_rows] == list(range(0, 2503))
    for _seq, serial, code, url in all_rows[:50] + all_rows[-50:]:
        decoded = CODEC.decode(code)
        assert (decoded.batch, decoded.serial, decoded.kind) == (17, int(serial), OUTER)
        assert url == f"HTTPS://Q.BRAND.CN/S/{code}"
    assert len({r[2] for r in all_rows}) == 2503


def test_paired_rolls_carry_inner_codes(paired_dir: tuple) -> None:
    out, manifest = paired_dir
    header, rows = read_rows(out / "roll-00003.csv")
    assert header == ["seq", "serial", "code", "url", "inner_code", "inner_url"]
    assert len(rows) == 200 and rows[0][:2] == ["1001", "1000"]
    for _seq, serial, code, url, inner, inner_url in rows:
        assert CODEC.decode(code).kind == OUTER and CODEC.decode(inner).kind == INNER
        assert CODEC.decode(inner).serial == int(serial) == CODEC.decode(code).serial
        assert url == f"HTTPS://Q.BRAND.CN/01/{GTIN}/21/{code}"
        assert inner_url == f"HTTPS://Q.BRAND.CN/01/{GTIN}/21/{inner}"
    assert manifest["columns"][-2:] == ["inner_code", "inner_url"]


def test_manifest_fields(plain_dir: tuple) -> None:
    out, manifest, _ = plain_dir
    assert json.loads((out / "manifest.json").read_text("utf-8")) == manifest
    for key, value in {
        "batch": 17,
        "product": "奶粉 900g <A&B>",
        "gtin14": GTIN,
        "campaign": "spring-2025",
        "quantity": 2503,
        "paired": False,
        "roll_size": 1000,
        "created_at": "2025-03-01T08:00:00+08:00",
        "url_template": "HTTPS://Q.BRAND.CN/S/{code}",
    }.items():
        assert manifest[key] == value, key
    qr = manifest["qr"]
    assert (qr["error_correction"], qr["quiet_zone_modules"], qr["module_size_mm"]) == ("M", 4, 0.4)
    assert qr["mode"] == "alphanumeric" and qr["version"] == 3
    assert qr["symbol_size_mm"] == pytest.approx((29 + 8) * 0.4)
    assert manifest["generator"].startswith("codeloop.codegen ")
    files = manifest["files"]
    assert [(f["first_serial"], f["last_serial"], f["rows"]) for f in files] == [
        (0, 999, 1000),
        (1000, 1999, 1000),
        (2000, 2502, 503),
    ]
    assert [(f["first_seq"], f["last_seq"]) for f in files] == [(1, 1000), (1001, 2000), (2001, 2503)]
    for f in files:
        data = (out / f["name"]).read_bytes()
        assert f["sha256"] == hashlib.sha256(data).hexdigest() and f["bytes"] == len(data)
    assert manifest["proof"]["name"] == "proof.svg" and manifest["proof"]["count"] == 20


def test_progress_reports_codes_done(plain_dir: tuple) -> None:
    _, _, seen = plain_dir
    assert seen == sorted(seen) and seen[-1] == 2503 and len(seen) == 3


def test_sha256sums_passes_sha256sum_check(plain_dir: tuple, tmp_path: Path) -> None:
    out, _, _ = plain_dir
    listed = [line.split("  ")[1] for line in (out / "SHA256SUMS").read_text().splitlines()]
    assert sorted(listed) == sorted(p.name for p in out.iterdir() if p.name != "SHA256SUMS")
    result = subprocess.run(
        ["sha256sum", "-c", "--strict", "SHA256SUMS"], cwd=out, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(": OK") == 5
    tampered = tmp_path / "t"
    shutil.copytree(out, tampered)
    roll = tampered / "roll-00002.csv"
    roll.write_bytes(roll.read_bytes().replace(b"\n2,", b"\n9,", 1) + b"x")
    result = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=tampered, capture_output=True)
    assert result.returncode != 0


def test_exports_are_byte_identical(plain_dir: tuple, tmp_path: Path) -> None:
    out, manifest, _ = plain_dir
    again = write_package(tmp_path, SECRET, PLAIN, roll_size=1_000, processes=1)
    assert again == manifest
    for path in out.iterdir():
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name


def test_zip_stream_has_the_same_files_and_bytes(plain_dir: tuple) -> None:
    out, _, _ = plain_dir
    chunks = list(iter_package_zip(SECRET, PLAIN, roll_size=1_000))
    assert len(chunks) > 3 and all(isinstance(c, bytes) for c in chunks)
    data = b"".join(chunks)
    assert data == b"".join(iter_package_zip(SECRET, PLAIN, roll_size=1_000))  # reproducible
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None
        assert sorted(zf.namelist()) == sorted(p.name for p in out.iterdir())
        for name in zf.namelist():
            assert zf.read(name) == (out / name).read_bytes(), name
        assert zf.getinfo("manifest.json").date_time == (2025, 3, 1, 8, 0, 0)


def test_codes_csv_stream(plain_dir: tuple) -> None:
    out, _, _ = plain_dir
    body = b"".join(iter_codes_csv(SECRET, PLAIN))
    rolls = [(out / f"roll-0000{k}.csv").read_bytes().split(b"\n", 1)[1] for k in (1, 2, 3)]
    assert body == b"seq,serial,code,url\n" + b"".join(rolls)
    window = b"".join(iter_codes_csv(SECRET, PLAIN, start=999, stop=1002)).decode().splitlines()
    assert window[0] == "seq,serial,code,url" and [r.split(",")[1] for r in window[1:]] == [
        "999",
        "1000",
        "1001",
    ]
    with pytest.raises(ValueError):
        list(iter_codes_csv(SECRET, PLAIN, start=0, stop=2504))


def test_codes_csv_stream_chunks_large_batches() -> None:
    spec = BatchSpec(batch=2, quantity=25_001, paired=True, urls=UrlTemplate("http://localhost:5000"))
    chunks = list(iter_codes_csv(SECRET, spec))
    assert len(chunks) == 4 and chunks[0] == b"seq,serial,code,url,inner_code,inner_url\n"
    lines = b"".join(chunks).decode().splitlines()
    assert len(lines) == 25_002 and lines[-1].startswith("25001,25000,")


def test_code_images_decode_and_are_limited(tmp_path: Path) -> None:
    spec = BatchSpec(batch=3, quantity=3, paired=True, urls=UrlTemplate("https://q.brand.cn"))
    paths = render_code_images(SECRET, spec, tmp_path / "png")
    assert len(paths) == 6 and paths[0].name.startswith("1-")
    for path in paths:
        found = zxingcpp.read_barcodes(Image.open(path))
        assert len(found) == 1
        decoded = CODEC.decode(found[0].text.rsplit("/", 1)[1])
        assert decoded.batch == 3 and path.name.endswith(f"{decoded.text}.png")
    svgs = render_code_images(SECRET, spec, tmp_path / "svg", fmt="svg")
    assert len(svgs) == 6 and svgs[0].read_text().startswith("<?xml")
    big = BatchSpec(batch=3, quantity=10_001, paired=False, urls=UrlTemplate("https://q.brand.cn"))
    with pytest.raises(ValueError):
        render_code_images(SECRET, big, tmp_path / "big")
    with pytest.raises(ValueError):
        render_code_images(SECRET, spec, tmp_path / "gif", fmt="gif")


def test_batch_spec_validation(tmp_path: Path) -> None:
    urls = UrlTemplate("https://q.brand.cn")
    for kwargs in ({"batch": 0}, {"quantity": 0}, {"quantity": 2**27 + 1}, {"gtin14": "6901234567892"}):
        with pytest.raises(ValueError):
            BatchSpec(**{"batch": 1, "quantity": 1, "paired": False, "urls": urls, **kwargs})
    with pytest.raises(ValueError):
        BatchSpec(1, 1, False, UrlTemplate("https://q.brand.cn", "gs1", GTIN), gtin14=None)
    with pytest.raises(ValueError):
        write_package(tmp_path / "never", SECRET, PLAIN, roll_size=0)
    assert not (tmp_path / "never").exists()


def test_a_failing_worker_raises_instead_of_hanging(tmp_path: Path) -> None:
    (tmp_path / "roll-00002.csv").mkdir()  # the second roll cannot be written
    with pytest.raises(IsADirectoryError):
        write_package(tmp_path, SECRET, PLAIN, roll_size=1_000, processes=2)


def test_directory_zip_stream_matches_the_folder(plain_dir: tuple) -> None:
    out, _, _ = plain_dir
    chunks = list(iter_directory_zip(out, chunk_size=4096))
    assert len(chunks) > 10  # streamed in pieces, not built whole
    assert b"".join(chunks) == b"".join(iter_directory_zip(out))  # reproducible
    with zipfile.ZipFile(io.BytesIO(b"".join(chunks))) as zf:
        assert zf.testzip() is None
        assert zf.namelist() == sorted(p.name for p in out.iterdir())
        for name in zf.namelist():
            assert zf.read(name) == (out / name).read_bytes()
