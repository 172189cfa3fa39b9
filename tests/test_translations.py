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
        source = {m.id: m.string for m in read_po(fh) if m.id}
    with po.with_suffix(".mo").open("rb") as fh:
        compiled = {m.id: m.string for m in read_mo(fh) if m.id}
    assert compiled == {k: v for k, v in source.items() if v}, f"run: pybabel compile -d {po.parents[2]}"
    assert all(source.values()), "untranslated strings"


def test_catalogues_agree_on_shared_strings():
    """The areas' catalogues are merged into one domain: a string translated in two must read the same."""
    seen: dict[str, tuple[str, str]] = {}
    clashes = []
    for po in CATALOGUES:
        with po.open("rb") as fh:
            for message in read_po(fh):
                if message.id and message.string:
                    area, string = po.parts[-4], message.string
                    if message.id in seen and seen[message.id][1] != string:
                        clashes.append((message.id, seen[message.id], (area, string)))
                    seen.setdefault(message.id, (area, string))
    assert clashes == []
