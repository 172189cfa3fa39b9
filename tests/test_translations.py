"""Every committed .mo matches its .po, so a translation edited but not compiled fails CI."""

from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

AREAS = Path(__file__).resolve().parents[1] / "server" / "translations"
CATALOGUES = sorted(AREAS.glob("*/*/LC_MESSAGES/*.po"))


def test_there_are_catalogues():
    assert {p.parts[-4] for p in CATALOGUES} >= {"common"}


@pytest.mark.parametrize("po", CATALOGUES, ids=lambda p: p.parts[-4])
def test_mo_is_compiled_from_po(po):
    with po.open("rb") as fh:
        source = {_key(m.id): _key(m.string) for m in read_po(fh) if m.id}
    with po.with_suffix(".mo").open("rb") as fh:
        compiled = {_key(m.id): _key(m.string) for m in read_mo(fh) if m.id}
    assert compiled == {k: v for k, v in source.items() if v}, f"run: pybabel compile -d {po.parents[2]}"
    assert all(v if isinstance(v, str) else all(v) for v in source.values()), "untranslated strings"


def test_catalogues_agree_on_shared_strings():
    """The areas' catalogues are merged into one domain: a string translated in two must read the same."""
    seen: dict[str, tuple[str, str]] = {}
    clashes = []
    for po in CATALOGUES:
        with po.open("rb") as fh:
            for message in read_po(fh):
                if message.id and message.string:
                    area, string = po.parts[-4], _key(message.string)
                    key = _key(message.id)
                    if key in seen and seen[key][1] != string:
                        clashes.append((key, seen[key], (area, string)))
                    seen.setdefault(key, (area, string))
    assert clashes == []


def _key(value):
    """A plural message's ids and strings come as a list or tuple: one hashable, comparable form."""
    return value if isinstance(value, str) else tuple(value)
