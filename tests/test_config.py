"""Configuration: the embedded default needs nothing; bad values stop start-up with one clear line."""

import subprocess
import sys
from pathlib import Path

import pytest

from server.config import Config, ConfigError

CODELOOP = str(Path(sys.executable).with_name("codeloop"))


def test_embedded_default_needs_no_configuration(tmp_path):
    config = Config.from_env({"CODELOOP_INSTANCE_DIR": str(tmp_path)}, dotenv=tmp_path / "none")
    assert config.database_url == f"sqlite:///{tmp_path / 'codeloop.sqlite3'}"
    assert config.inline_jobs and config.geoip_db is None and config.timezone == "Asia/Shanghai"
    assert len(config.secret_key) >= 32
    again = Config.from_env({"CODELOOP_INSTANCE_DIR": str(tmp_path)}, dotenv=tmp_path / "none")
    assert again.secret_key == config.secret_key  # kept in the instance folder, not regenerated
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_dotenv_is_read_and_environment_wins(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("CODELOOP_TIMEZONE=Asia/Urumqi\nCODELOOP_PUBLIC_URL=https://q.brand.cn/\n")
    config = Config.from_env(
        {"CODELOOP_INSTANCE_DIR": str(tmp_path), "CODELOOP_TIMEZONE": "UTC"}, dotenv=dotenv
    )
    assert config.timezone == "UTC" and config.public_url == "https://q.brand.cn"


def test_postgres_urls_use_psycopg3(tmp_path):
    config = Config.from_env(
        {"CODELOOP_DATABASE_URL": "postgres://u@h/db", "CODELOOP_INSTANCE_DIR": str(tmp_path)}
    )
    assert config.database_url == "postgresql+psycopg://u@h/db"


@pytest.mark.parametrize(
    "environ, message",
    [
        (
            {"CODELOOP_ENV": "staging"},
            "CODELOOP_ENV must be one of development, production, test; got 'staging'",
        ),
        (
            {"CODELOOP_DATABSE_URL": "sqlite://"},
            "unknown variable CODELOOP_DATABSE_URL (did you mean CODELOOP_DATABASE_URL?)",
        ),
        (
            {"CODELOOP_DATABASE_URL": "mysql://x/y"},
            "CODELOOP_DATABASE_URL must be a sqlite:// or postgresql:// URL",
        ),
        ({"CODELOOP_REDIS_URL": "http://x"}, "CODELOOP_REDIS_URL must be a redis:// URL"),
        ({"CODELOOP_TIMEZONE": "Mars/Olympus"}, "CODELOOP_TIMEZONE is not a known time zone"),
        ({"CODELOOP_PUBLIC_URL": "q.brand.cn"}, "CODELOOP_PUBLIC_URL must be an http(s) URL"),
        ({"CODELOOP_GEOIP_DB": "/no/such.mmdb"}, "CODELOOP_GEOIP_DB names no file"),
        ({"CODELOOP_TRUSTED_PROXIES": "-1"}, "CODELOOP_TRUSTED_PROXIES must be a whole number from 0 to 10"),
        ({"CODELOOP_ENV": "production"}, "CODELOOP_SECRET_KEY must be set when CODELOOP_ENV=production"),
        (
            {"CODELOOP_ENV": "production", "CODELOOP_SECRET_KEY": "x" * 40},
            "CODELOOP_DATABASE_URL must be set when CODELOOP_ENV=production",
        ),
        (
            {
                "CODELOOP_ENV": "production",
                "CODELOOP_SECRET_KEY": "short",
                "CODELOOP_DATABASE_URL": "sqlite://",
            },
            "CODELOOP_SECRET_KEY must be at least 32 characters in production",
        ),
    ],
)
def test_bad_configuration_is_refused(tmp_path, environ, message):
    with pytest.raises(ConfigError) as raised:
        Config.from_env({"CODELOOP_INSTANCE_DIR": str(tmp_path), **environ}, dotenv=tmp_path / "none")
    assert message in str(raised.value)


@pytest.mark.parametrize(
    "environ, expected",
    [
        ({"CODELOOP_ENV": "staging"}, "codeloop: configuration error: CODELOOP_ENV must be one of"),
        (
            {"CODELOOP_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"},
            "codeloop: configuration error: cannot reach the database at postgresql+psycopg://nobody@127.0.0.1:1/none",
        ),
    ],
)
def test_cli_start_up_errors_are_one_line_without_traceback(tmp_path, environ, expected):
    env = {"PATH": "/usr/bin:/bin", "CODELOOP_INSTANCE_DIR": str(tmp_path), **environ}
    result = subprocess.run(
        [CODELOOP, "check"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr.startswith(expected)
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_the_public_url_follows_the_served_address_unless_it_is_set(tmp_path, monkeypatch):
    from server.config import served_url
    from server.serving import serve_public_url

    assert served_url("127.0.0.1", 18500) == "http://127.0.0.1:18500"
    assert served_url("::1", 8000) == "http://[::1]:8000"
    wildcard = served_url("0.0.0.0", 8000)
    assert wildcard.startswith("http://") and wildcard.endswith(":8000") and "0.0.0.0" not in wildcard
    import os

    monkeypatch.setattr(os, "environ", {k: v for k, v in os.environ.items() if k != "CODELOOP_PUBLIC_URL"})
    unset = Config.from_env({"CODELOOP_INSTANCE_DIR": str(tmp_path)}, dotenv=tmp_path / "none")
    assert not unset.public_url_set
    served = serve_public_url(unset, "127.0.0.1", 18500)
    assert served.public_url == "http://127.0.0.1:18500"
    assert os.environ["CODELOOP_PUBLIC_URL"] == "http://127.0.0.1:18500"  # what gunicorn's workers read
    chosen = Config.from_env(
        {"CODELOOP_INSTANCE_DIR": str(tmp_path), "CODELOOP_PUBLIC_URL": "https://q.brand.cn"},
        dotenv=tmp_path / "none",
    )
    assert serve_public_url(chosen, "127.0.0.1", 18500).public_url == "https://q.brand.cn"
