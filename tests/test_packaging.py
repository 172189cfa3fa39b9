"""The wheel carries templates, static files and migrations, and the console script."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_contains_templates_static_and_migrations(tmp_path):
    # build from a copy: setuptools writes build/ into the source tree, which parallel runs would share
    source = tmp_path / "src"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".venv",
            ".git",
            "build",
            "instance",
            "test-artifacts",
            "*.egg-info",
            "__pycache__",
            "node_modules",
        ),
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = next(tmp_path.glob("codeloop-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "server/templates/base.html" in names and "server/templates/error.html" in names
    assert any(n.startswith("server/static/") for n in names)
    assert (
        "server/migrations/versions/0001_initial_schema.py" in names and "server/migrations/env.py" in names
    )
    assert "codegen/__init__.py" in names and "workers/__init__.py" in names
    modules = {
        str(p.relative_to(ROOT))
        for top in ("server", "codegen", "workers")
        for p in (ROOT / top).rglob("*.py")
    }
    assert modules - names == set(), "packages missing from pyproject.toml's [tool.setuptools] packages"
    assert "server/data/regions.csv" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "codeloop = server.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_checkout_finds_templates_and_static():
    from server.assets import static_folder, template_folder

    assert Path(template_folder()) == ROOT / "templates" and Path(static_folder()) == ROOT / "static"


def test_png_images_need_nothing_beyond_the_main_dependencies():
    """images.zip?format=png draws with Pillow (through qrcode): `pip install codeloop` must bring it."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert any(dep.lower().startswith("pillow") for dep in project["dependencies"])
