"""Where templates/ and static/ are: the repository root in a checkout, inside the package in a wheel."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def _find(name: str) -> str:
    for candidate in (_HERE / name, _HERE.parent / name):
        if candidate.is_dir():
            return str(candidate)
    raise RuntimeError(f"codeloop is installed without its {name}/ folder")


def template_folder() -> str:
    return _find("templates")


def static_folder() -> str:
    return _find("static")
