"""Pack-code format: round trips, typo rejection, normalisation, MAC domains."""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import codegen.canonical as canonical_module
from codegen._base32 import ALPHABET
from codegen.codes import (
    INNER,
    MAC_PERSON,
    MAX_BATCH,
    MAX_SERIAL,
    OUTER,
    REASONS,
    Codec,
    CodeInvalid,
    PackCode,
    derive_batch_key,
    header,
    normalize,
)

SECRET = b"test-secret-0123456789abcdef"
CODEC = Codec(SECRET)
SAMPLES = [(1, 0, OUTER), (7, 12345, INNER), (MAX_BATCH, MAX_SERIAL, OUTER), (42, 99_999_999, OUTER)]

batches = st.integers(1, MAX_BATCH)
serials = st.integers(0, MAX_SERIAL)
kinds = st.sampled_from([OUTER, INNER])


def reason(text: str, codec: Codec = CODEC) -> str:
    with pytest.raises(CodeInvalid) as exc:
        codec.decode(text)
    assert exc.value.reason in REASONS
    return exc.value.reason


def reference_code(secret: bytes, batch: int, serial: int, kind: int) -> str:
    """Straightforward re-implementation of the documented layout (slow path)."""
    head = header(batch, serial, kind)
    key = derive_batch_key(secret, batch)
    tag = hashlib.blake2b(head.to_bytes(7, "big"), key=key, digest_size=6, person=MAC_PERSON)
    value = (head << 48) | int.from_bytes(tag.digest(), "big")
    rfc = base64.b32encode((value << 4).to_bytes(13, "big")).decode()[:20]
    return rfc.translate(str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", ALPHABET))


@given(batches, serials, kinds)
def test_round_trip(batch: int, serial: int, kind: int) -> None:
    code = CODEC.encode(batch, serial, kind)
    assert len(code) == 20 and set(code) <= set(ALPHABET)
    assert CODEC.decode(code) == PackCode(1, kind, batch, serial, code)


@given(batches, st.integers(0, MAX_SERIAL - 300), kinds, st.integers(0, 300))
@settings(max_examples=30)
def test_encode_range_matches_reference_layout(batch: int, start: int, kind: int, n: int) -> None:
    codes = CODEC.encode_range(batch, start, start + n, kind)
    assert len(codes) == n
    for serial, code in zip(range(start, start + n), codes, strict=True):
        assert code == reference_code(SECRET, batch, serial, kind)


def test_encode_range_at_the_top_of_the_serial_space() -> None:
    codes = CODEC.encode_range(9, MAX_SERIAL - 2, MAX_SERIAL + 1)
    assert [CODEC.decode(c).serial for c in codes] == [MAX_SERIAL - 2, MAX_SERIAL - 1, MAX_SERIAL]
    assert CODEC.encode_range(9, 5, 5) == []


def test_first_five_characters_name_version_kind_and_batch() -> None:
    outer, inner = CODEC.encode(5, 77, OUTER), CODEC.encode(5, 77, INNER)
    assert outer[:5] == "20005" and inner[:5] == "30005"


@pytest.mark.parametrize("batch,serial,kind", SAMPLES)
def test_every_single_character_substitution_is_rejected(batch: int, serial: int, kind: int) -> None:
    code = CODEC.encode(batch, serial, kind)
    candidates = ALPHABET + "OILUoilu*é"
    for pos in range(20):
        for ch in candidates:
            typo = code[:pos] + ch + code[pos + 1 :]
            if canonical(typo) == code:
                continue  # e.g. O for 0, lowercase of the same letter
            assert reason(typo) in {"bad_tag", "bad_version", "out_of_range", "bad_character"}


@pytest.mark.parametrize("batch,serial,kind", SAMPLES)
def test_every_adjacent_transposition_is_rejected(batch: int, serial: int, kind: int) -> None:
    code = CODEC.encode(batch, serial, kind)
    for pos in range(19):
        if code[pos] == code[pos + 1]:
            continue
        swapped = code[:pos] + code[pos + 1] + code[pos] + code[pos + 2 :]
        assert not CODEC.verify(swapped), (pos, swapped)


@pytest.mark.parametrize("batch,serial,kind", SAMPLES)
def test_truncations_deletions_and_extensions_are_rejected(batch: int, serial: int, kind: int) -> None:
    code = CODEC.encode(batch, serial, kind)
    for k in range(1, 20):
        assert reason(code[:k]) == "bad_length"
        assert reason(code[k:]) == "bad_length"
    for pos in range(20):
        assert reason(code[:pos] + code[pos + 1 :]) == "bad_length"
    for pos in range(21):
        for ch in ALPHABET:
            assert reason(code[:pos] + ch + code[pos:]) == "bad_length"


def canonical(text: str) -> str | None:
    try:
        return normalize(text)
    except CodeInvalid:
        return None


def fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) for c in text)


def test_equivalent_spellings_decode_to_the_same_code() -> None:
    code = CODEC.encode(321, 4567, OUTER)
    groups = [code[i : i + 5] for i in range(0, 20, 5)]
    variants = [
        code.lower(),
        fullwidth(code),
        fullwidth(code.lower()),
        "-".join(groups),
        " ".join(groups),
        "_".join(groups),
        "  " + code + "\u3000",
        "\u200b".join(groups) + "\ufeff",
        "\u2014".join(groups),
        code.replace("0", "O").replace("1", "I"),
        code.replace("1", "l").lower(),
    ]
    for text in variants:
        assert CODEC.decode(text).text == code, text


def test_long_input_and_control_characters_fail_fast(monkeypatch) -> None:
    def normalize(*_):
        raise AssertionError("over-long input is refused before any normalising")

    with monkeypatch.context() as patch:
        patch.setattr(canonical_module.unicodedata, "normalize", normalize)
        assert reason("A" * 10_000) == "too_long"
        assert reason("\u3000" * 10_000) == "too_long"
    code = CODEC.encode(3, 3)
    for bad in ("\x00", "\n", "\t", "\x7f", "\u202e", "/", "?", "é", "💥"):
        assert reason(code[:10] + bad + code[10:]) == "bad_character"


def test_reasons_for_structural_errors() -> None:
    assert reason("") == "empty"
    assert reason(" - _ \u200b") == "empty"
    assert reason("ABC") == "bad_length"
    code = CODEC.encode(3, 3)
    assert reason("Z" + code[1:]) == "bad_version"  # version 15
    assert reason("2000000000" + code[10:]) == "out_of_range"  # batch 0
    assert reason(code[:-1] + ("0" if code[-1] != "0" else "1")) == "bad_tag"
    with pytest.raises(CodeInvalid):
        CODEC.decode(None)  # type: ignore[arg-type]


@given(st.text(max_size=80))
def test_decode_of_any_text_returns_or_raises_code_invalid(text: str) -> None:
    try:
        result = CODEC.decode(text)
    except CodeInvalid:
        return
    assert isinstance(result, PackCode)


@given(st.tuples(batches, serials, kinds), st.tuples(batches, serials, kinds))
def test_distinct_inputs_never_share_a_code(a: tuple, b: tuple) -> None:
    if a != b:
        assert CODEC.encode(*a) != CODEC.encode(*b)


def test_no_duplicates_across_a_range_kinds_and_batches() -> None:
    codes = CODEC.encode_range(11, 0, 50_000) + CODEC.encode_range(11, 0, 50_000, INNER)
    codes += CODEC.encode_range(12, 0, 50_000)
    assert len(set(codes)) == len(codes) == 150_000


@given(batches, serials, kinds)
@settings(max_examples=50)
def test_a_code_from_another_secret_fails(batch: int, serial: int, kind: int) -> None:
    other = Codec(b"another-secret-0123456789abcdef")
    code = other.encode(batch, serial, kind)
    assert reason(code) == "bad_tag"


@given(batches, serials)
@settings(max_examples=50)
def test_inner_and_outer_codes_are_separate_mac_domains(batch: int, serial: int) -> None:
    outer, inner = CODEC.encode(batch, serial, OUTER), CODEC.encode(batch, serial, INNER)
    assert outer != inner and outer[5:10] == inner[5:10]
    assert CODEC.decode(outer).kind == OUTER and CODEC.decode(inner).kind == INNER
    # each one's tag under the other's header (the kind bit flipped) does not verify
    assert reason(inner[:1] + outer[1:]) == "bad_tag"
    assert reason(outer[:1] + inner[1:]) == "bad_tag"


def test_encode_refuses_out_of_range_inputs() -> None:
    for args in [(0, 1), (MAX_BATCH + 1, 1), (1, -1), (1, MAX_SERIAL + 1)]:
        with pytest.raises(CodeInvalid) as exc:
            CODEC.encode(*args)
        assert exc.value.reason == "out_of_range"
    with pytest.raises(ValueError):
        CODEC.encode(1, 1, kind=2)
    with pytest.raises(CodeInvalid):
        CODEC.encode_range(1, 0, MAX_SERIAL + 2)


def test_batch_keys_are_derived_and_domain_separated() -> None:
    k1, k2 = derive_batch_key(SECRET, 1), derive_batch_key(SECRET, 2)
    assert len(k1) == 32 and k1 != k2 and k1 == derive_batch_key(SECRET, 1)
    assert k1 != derive_batch_key(SECRET + b"x", 1)
    assert k1 != hashlib.sha256(SECRET + (1).to_bytes(4, "big")).digest()
    with pytest.raises(ValueError):
        derive_batch_key(b"short", 1)
    with pytest.raises(ValueError):
        Codec("not bytes")  # type: ignore[arg-type]


def test_key_cache_is_bounded_against_forged_batch_numbers() -> None:
    codec = Codec(SECRET, key_cache=16)
    for batch in range(1, 200):
        forged = codec.encode(batch, 1)[:-1] + "0"
        codec.verify(forged)
    assert codec._mac.cache_info().currsize <= 16
