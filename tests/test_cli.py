"""The `codeloop` console script against the test database."""

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select, text

from server.models import ApiToken, User
from server.services.accounts import hash_token
from tests.conftest import codeloop_env
from tests.health import wait_for_health

CODELOOP = str(Path(sys.executable).with_name("codeloop"))


def run(cli_env, *args, input=None, cwd=None):
    return subprocess.run(
        [CODELOOP, *args], env=cli_env, input=input, capture_output=True, text=True, timeout=120, cwd=cwd
    )


def test_db_upgrade_is_repeatable(cli_env):
    first, second = run(cli_env, "db", "upgrade"), run(cli_env, "db", "upgrade")
    assert first.returncode == second.returncode == 0, first.stderr
    from server.migrate import head_revision

    assert f"is at revision {head_revision()}" in second.stdout


def test_user_and_token_create(cli_env, sessions):
    made = run(cli_env, "user", "create", "boss", "--role", "admin", "--password", "correct-horse")
    assert made.returncode == 0 and "created admin boss" in made.stdout, made.stderr
    token = run(cli_env, "token", "create", "boss", "--name", "pos")
    assert token.returncode == 0
    plain = token.stdout.strip()
    with sessions() as s:
        stored = s.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(plain)))
        assert stored is not None and stored.user_id == s.scalar(
            select(User.id).where(User.username == "boss")
        )
        assert plain not in str(s.execute(text("SELECT * FROM api_tokens")).all())


def test_user_create_refusals_are_clear(cli_env):
    short = run(cli_env, "user", "create", "x1x", "--role", "admin", "--password", "short")
    assert (
        short.returncode == 1
        and "VALIDATION_FAILED: Invalid input: password must be at least 8" in short.stderr
    )
    clerk = run(cli_env, "user", "create", "c1c", "--role", "clerk", "--password", "long-enough")
    assert clerk.returncode == 1 and "a clerk needs a store" in clerk.stderr
    assert "Traceback" not in short.stderr + clerk.stderr


def test_a_clerk_made_on_the_command_line_has_a_promo_code(cli_env, sessions):
    from tests.factories import make_store

    with sessions.begin() as s:
        store_id = make_store(s).id
    made = run(
        cli_env, "user", "create", "c2c", "--role", "clerk", "--store", str(store_id), "--password", "x" * 9
    )
    assert made.returncode == 0, made.stderr
    with sessions() as s:
        assert s.scalar(select(User.promo_code).where(User.username == "c2c"))


def test_check_passes_then_finds_a_violation(cli_env, sessions):
    assert run(cli_env, "check").returncode == 0
    from tests.factories import make_campaign, make_consumer, make_voucher

    with sessions.begin() as s:  # a voucher issued behind the campaign counter's back
        campaign = make_campaign(s)
        make_voucher(s, campaign=campaign, consumer=make_consumer(s))
    result = run(cli_env, "check")
    assert result.returncode == 1
    assert "VIOLATION of invariant 2: issued vouchers within cap and budget" in result.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_demo_serves_the_embedded_default_from_nothing(tmp_path):
    """The README's first command: no configuration, SQLite, inline jobs, bundled GeoIP."""
    env = codeloop_env()
    port = _free_port()
    proc = subprocess.Popen(
        [CODELOOP, "demo", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        health = wait_for_health(f"http://127.0.0.1:{port}", proc=proc)
        assert health.json()["database"]["dialect"] == "sqlite" and health.json()["jobs"]["mode"] == "inline"
        assert (tmp_path / "instance" / "codeloop.sqlite3").exists() and (
            tmp_path / "instance" / "secret_key"
        ).exists()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        output = proc.communicate(timeout=30)[0]
    assert "codeloop-demo" in output and all(
        f"{name} (" in output for name in ("clerk1", "clerk2", "owner1", "owner2")
    )
    assert f"http://127.0.0.1:{port}/admin" in output and ":5000" not in output  # links follow the port
    again = subprocess.run(
        [CODELOOP, "demo", "--no-serve"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert again.returncode == 0, again.stderr  # seeding twice changes nothing


def _cli(app, *args, input=None):
    """Run a `codeloop` command in process (click's CliRunner) against the test app."""
    import server.cli_catalog  # noqa: F401 — registered by main() in the console script
    import server.cli_people  # noqa: F401
    from server.cli import cli

    return app.test_cli_runner().invoke(cli, list(args), input=input)


def test_campaign_store_and_clerk_commands_create_and_list(app, sessions):
    made = _cli(
        app,
        "campaign",
        "create",
        "春季活动",
        "--starts",
        "2026-03-01T00:00+08:00",
        "--ends",
        "2026-06-01T00:00+08:00",
        "--voucher-value-fen",
        "500",
        "--cap",
        "1000",
        "--budget-fen",
        "500000",
        "--clerk-claim-reward-fen",
        "20",
    )
    assert made.exit_code == 0 and "created campaign 1 (春季活动, voucher 500 fen" in made.output, made.output
    assert "春季活动" in _cli(app, "campaign", "list").output
    store = _cli(app, "store", "create", "一号店", "--province", "广东", "--city", "深圳")
    assert store.exit_code == 0 and "created store 1 (一号店, 广东省深圳市)" in store.output, store.output
    assert "一号店\t广东省\t深圳市" in _cli(app, "store", "list").output
    clerk = _cli(
        app, "clerk", "create", "lihua", "--store", "一号店", "--name", "李华", input="secret-pw\nsecret-pw\n"
    )
    assert clerk.exit_code == 0 and "created clerk lihua" in clerk.output, clerk.output
    with sessions() as s:
        user = s.execute(select(User).where(User.username == "lihua")).scalar_one()
        assert user.role == "clerk" and user.store_id == 1 and user.promo_code
    assert f"lihua\t李华\t1\t{user.promo_code}\tactive" in _cli(app, "clerk", "list", "--store", "1").output


def test_campaign_and_store_refusals_name_the_field(app):
    bad = _cli(
        app,
        "campaign",
        "create",
        "x",
        "--starts",
        "2026-03-01T00:00+08:00",
        "--ends",
        "2026-06-01T00:00+08:00",
    )
    assert bad.exit_code != 0 and "voucher_value_fen must be positive" in bad.exception.message("en")
    naive = _cli(app, "campaign", "create", "x", "--starts", "2026-03-01", "--ends", "2026-06-01T00:00+08:00")
    assert naive.exit_code == 2 and "time zone" in naive.output
    unknown = _cli(app, "store", "create", "二号店", "--city", "Atlantis")
    assert unknown.exit_code != 0 and "unknown city" in unknown.exception.message("en")
