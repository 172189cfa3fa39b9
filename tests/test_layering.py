"""Imports run one way: workers -> server -> codegen; only the web layer imports Flask."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WEB = {
    "server/app.py",
    "server/web.py",
    "server/cli.py",
    "server/demo_cli.py",
    "server/auth.py",
    "server/consumer_web.py",
    "server/extensions.py",
    "server/cli_batch.py",
    "server/cli_analysis.py",
    "server/cli_jobs.py",
    "server/cli_catalog.py",
    "server/cli_people.py",
}


def _modules(path: Path) -> set[str]:
    """Every module `path` imports, dotted (`from a.b import c` counts as a.b and a.b.c)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _imports(path: Path) -> set[str]:
    return {name.split(".")[0] for name in _modules(path)}


def _files(package: str):
    return [p for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts]


def _is_web(path: Path) -> bool:
    rel = path.relative_to(ROOT).as_posix()
    return rel in WEB or rel.startswith(("server/views/", "server/api/"))


def test_codegen_is_pure():
    for path in _files("codegen"):
        assert not _imports(path) & {"flask", "sqlalchemy", "server", "workers", "redis", "rq"}, path


def test_only_the_web_layer_imports_flask():
    for path in _files("server") + _files("workers"):
        if not _is_web(path):
            assert not {name for name in _imports(path) if name.startswith("flask")}, path


def test_server_never_imports_workers():
    for path in _files("server"):
        assert "workers" not in _imports(path), path


def _imports_a_view(path: Path) -> bool:
    return any(name == "server.views" or name.startswith("server.views.") for name in _modules(path))


def test_no_api_module_imports_a_view_module():
    for path in _files("server/api"):
        assert not _imports_a_view(path), path


def test_the_checker_sees_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import flask\nfrom workers import geo\n")
    assert {"flask", "workers"} <= _imports(bad)
    for text in ("from server.views.consumer import limited\n", "from server import views\n"):
        bad.write_text(text)
        assert _imports_a_view(bad)
    bad.write_text("from server import consumer_web\n")
    assert not _imports_a_view(bad)
