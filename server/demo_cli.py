"""`codeloop demo`: the embedded default from nothing to a running, seeded server."""

from __future__ import annotations

import click

from server.config import Config


def run_demo(*, host: str, port: int, serve: bool) -> None:
    from server.app import create_app
    from server.db import make_engine
    from server.migrate import upgrade
    from server.models import utcnow
    from server.services.demo import seed

    config = Config.from_env()
    upgrade(make_engine(config.database_url))
    app = create_app(config)
    rt = app.extensions["codeloop"]
    with rt.sessions.begin() as session:
        info = seed(session, now=utcnow())
    base = f"http://{host}:{port}"
    click.echo(f"""
codeloop demo — database {rt.engine.url.render_as_string(hide_password=True)}, \
jobs {"inline" if config.inline_jobs else "on Redis"}

  health:      {base}/healthz
  admin login: {base}/admin   user {info["admin"]} / password {info["password"]}
  clerk login: {base}/clerk   user {info["clerks"][0]} / password {info["password"]}
  owner login: {base}/owner   user {info["owners"][0]} / password {info["password"]}
""")
    codec = rt.codec
    click.echo(f"""  scan a genuine pack (serial 0):     {base}/S/{codec.encode(info["batch_id"], 0)}
  a pack not yet shipped (serial 920): {base}/S/{codec.encode(info["batch_id"], 920)}
  a blacklisted pack (serial 960):     {base}/S/{codec.encode(info["batch_id"], 960)}
  a forged code:                       {base}/S/{_forged(codec.encode(info["batch_id"], 1))}
  print package of the demo batch:     codeloop batch export {info["batch_id"]} --out ./print-package
""")
    if serve:
        from server.serving import exec_gunicorn

        rt.engine.dispose()
        exec_gunicorn(config.database_url, host=host, port=port)


def _forged(code: str) -> str:
    return code[:-1] + ("0" if code[-1] != "0" else "1")
