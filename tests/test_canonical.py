"""One canonical rule for what is typed in the pack-code alphabet: pack codes, public ids, voucher codes."""

import pytest

from codegen.canonical import ALPHABET, canonical, in_alphabet
from codegen.codes import Codec, normalize
from codegen.ids import PublicIds
from server.services.voucher_codes import canonical_code, presented

SECRET = b"s" * 32
# a full-width letter, an ideographic space, a soft hyphen, an en dash, a katakana dash, a zero-width space
MESSY = "\uff41 b\u3000c\u00add\u2013e\u30fcf\u200bo-i_l"


def test_every_reader_drops_the_same_separators_and_lookalikes():
    assert canonical(MESSY) == "ABCDEF011"
    code = Codec(SECRET).encode(7, 42, 0)
    messy_code = "\u30fc".join([code[:5], code[5:10].lower(), "\u00ad" + code[10:]])
    assert normalize(messy_code) == code
    assert Codec(SECRET).decode(messy_code).serial == 42
    ids = PublicIds(SECRET)
    promo = ids.encode("promo", 1234)
    assert ids.decode("promo", f"{promo[:3]}\u30fc{promo[3:].lower()} ") == 1234
    assert canonical_code(f"{promo[:3]}\u30fc{promo[3:]}\u00ad") == promo
    assert presented(f" https://x.example/v/{promo[:3]}\u2013{promo[3:].lower()} ") == (promo, False)


def test_a_rotating_token_keeps_its_case_and_loses_only_separators():
    assert presented("ABC\u200bDEF.123.aB-cD") == ("ABCDEF.123.aBcD", True)


@pytest.mark.parametrize("text", ["", "U" * 3, "A" * 25, "X" * 65, 5])
def test_what_cannot_be_a_voucher_code_is_none(text):
    assert canonical_code(text) is None


def test_the_alphabet_is_crockford():
    assert len(ALPHABET) == 32 and not set("ILOU") & set(ALPHABET)
    assert in_alphabet("0123ABCZ") and not in_alphabet("ABCU")
