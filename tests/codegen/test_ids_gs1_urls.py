"""Public ids (hashids), GTIN validation and printed URL templates."""

from __future__ import annotations

import contextlib

import pytest
import qrcode
import qrcode.util
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from hypothesis import given
from hypothesis import strategies as st

from codegen._base32 import ALPHABET, encode_lanes
from codegen.codes import Codec
from codegen.gs1 import GtinInvalid, digital_link_path, normalize_gtin
from codegen.ids import ID_ALPHABET, IdInvalid, PublicIds
from codegen.urls import UrlTemplate

SECRET = b"test-secret-0123456789abcdef"
IDS = PublicIds(SECRET)


@given(st.lists(st.integers(0, (1 << 100) - 1), max_size=40))
def test_bulk_base32_matches_positional_encoding(values: list[int]) -> None:
    lanes = b"".join(v.to_bytes(20, "big") for v in values)
    expected = "".join("".join(ALPHABET[(v >> (5 * (19 - i))) & 31] for i in range(20)) for v in values)
    assert encode_lanes(lanes, len(values)) == expected


@given(st.sampled_from(["promo", "store", "batch"]), st.integers(0, 10**12))
def test_public_id_round_trip(namespace: str, n: int) -> None:
    text = IDS.encode(namespace, n)
    assert len(text) >= 6 and set(text) <= set(ID_ALPHABET)
    assert IDS.decode(namespace, text) == n
    assert IDS.decode(namespace, text.lower()) == n
    assert IDS.decode(namespace, text.replace("0", "o").replace("1", "i")) == n


@given(st.sampled_from(["promo", "store"]), st.text(alphabet=ID_ALPHABET + "olI", min_size=1, max_size=12))
def test_public_ids_decode_only_canonical_text(namespace: str, text: str) -> None:
    try:
        n = IDS.decode(namespace, text)
    except IdInvalid:
        return
    assert IDS.encode(namespace, n) == text.upper().replace("O", "0").replace("I", "1").replace("L", "1")


def test_public_id_typos_and_padding_tricks_are_refused() -> None:
    text = IDS.encode("promo", 12345)
    refused = 0
    for pos in range(len(text)):
        for variant in (text[:pos] + text[pos + 1 :], text[:pos] + "Z" + text[pos:]):
            try:
                n = IDS.decode("promo", variant)
            except IdInvalid:
                refused += 1
                continue
            assert IDS.encode("promo", n) == variant and n != 12345
    assert refused >= len(text)
    for bad in ("", "U" * 6, "ABC DEF?", "A" * 65, "ÄÖÜÄÖÜ"):
        with pytest.raises(IdInvalid):
            IDS.decode("promo", bad)


def test_public_ids_differ_by_namespace_and_secret() -> None:
    assert IDS.encode("promo", 5) != IDS.encode("store", 5)
    assert PublicIds(b"another-secret-0123456789abcdef").encode("promo", 5) != IDS.encode("promo", 5)
    with contextlib.suppress(IdInvalid):
        assert IDS.decode("store", IDS.encode("promo", 5)) != 5
    with pytest.raises(ValueError):
        IDS.encode("promo", -1)
    with pytest.raises(ValueError):
        IDS.encode("Bad Namespace", 1)


@pytest.mark.parametrize(
    "text,gtin14",
    [
        ("4006381333931", "04006381333931"),  # EAN-13
        ("6901234567892", "06901234567892"),  # GS1 China prefix
        ("73513537", "00000073513537"),  # EAN-8
        ("036000291452", "00036000291452"),  # UPC-A
        ("98412345678908", "98412345678908"),  # GTIN-14
        (" 4006381-333931 ", "04006381333931"),
        ("４００６３８１３３３９３１", "04006381333931"),  # full-width digits
    ],
)
def test_valid_gtins_become_gtin14(text: str, gtin14: str) -> None:
    assert normalize_gtin(text) == gtin14


@pytest.mark.parametrize(
    "text",
    [
        "4006381333932",
        "6901234567893",
        "73513538",
        "036000291453",
        "98412345678907",
        "1234567",
        "123456789012345",
        "40063813339A1",
        "",
        "٤٠٠٦٣٨١٣٣٣٩٣١",
        "x" * 100,
    ],
)
def test_invalid_gtins_are_refused(text: str) -> None:
    with pytest.raises(GtinInvalid):
        normalize_gtin(text)


def test_digital_link_path_parses_with_biip() -> None:
    code = Codec(SECRET).encode(3, 9)
    path = digital_link_path("06901234567892", code)
    assert path == f"/01/06901234567892/21/{code}"
    parsed = GS1DigitalLinkURI.parse("HTTPS://Q.BRAND.CN" + path)
    values = {e.ai.ai: e.value for e in parsed.element_strings}
    assert values == {"01": "06901234567892", "21": code}
    with pytest.raises(GtinInvalid):
        digital_link_path("6901234567892", code)  # not padded to 14


def test_url_templates_are_uppercase_and_alphanumeric_mode() -> None:
    code = Codec(SECRET).encode(3, 9)
    short = UrlTemplate("https://q.brand.cn/")
    gs1 = UrlTemplate("https://q.brand.cn", "gs1", "06901234567892")
    assert short.url(code) == f"HTTPS://Q.BRAND.CN/S/{code}"
    assert short.template_string() == "HTTPS://Q.BRAND.CN/S/{code}"
    assert gs1.url(code) == f"HTTPS://Q.BRAND.CN/01/06901234567892/21/{code}"
    assert gs1.template_string() == "HTTPS://Q.BRAND.CN/01/06901234567892/21/{code}"
    for template in (short, gs1):
        qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
        qr.add_data(template.url(code))
        qr.make(fit=True)
        assert [d.mode for d in qr.data_list] == [qrcode.util.MODE_ALPHA_NUM]
        lower = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
        lower.add_data(template.url(code).lower())
        lower.make(fit=True)
        assert qr.version <= lower.version
    assert qr.version < lower.version  # the GS1 form is one version smaller in uppercase


def test_url_templates_refuse_what_breaks_alphanumeric_mode() -> None:
    for bad in ("https://q.brand.cn/?x=1", "https://q_brand.cn", "ftp://q.brand.cn", "https://品牌.cn"):
        with pytest.raises(ValueError):
            UrlTemplate(bad)
    with pytest.raises(GtinInvalid):
        UrlTemplate("https://q.brand.cn", "gs1")
    with pytest.raises(GtinInvalid):
        UrlTemplate("https://q.brand.cn", "gs1", "06901234567893")
    with pytest.raises(ValueError):
        UrlTemplate("https://q.brand.cn", "long")  # type: ignore[arg-type]
