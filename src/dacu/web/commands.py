"""`dacu serve`, `dacu user …`, `dacu key …`, `dacu db upgrade`, `dacu campaign add`."""

from __future__ import annotations

import ipaddress
import json
import os
import sys
from pathlib import Path

import typer

from dacu.errors import DacuError

user_app = typer.Typer(
    help="Accounts of people: admin, operator (运营), viewer.", no_args_is_help=True
)
key_app = typer.Typer(
    help="API keys of machine clients (collector, shop front ends).", no_args_is_help=True
)
db_app = typer.Typer(
    help="The metadata database (DACU_DB; SQLite file by default).", no_args_is_help=True
)
campaign_app = typer.Typer(help="Campaigns registered in the web app.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.add_typer(user_app, name="user")
    app.add_typer(key_app, name="key")
    app.add_typer(db_app, name="db")
    app.add_typer(campaign_app, name="campaign")


def _open():
    from dacu.metadata import open_db, upgrade

    db = open_db()
    upgrade(db)
    return db


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0 = all)."),
    port: int = typer.Option(8000, help="TCP port."),
    workers: int = typer.Option(1, "--workers", "-w", min=1, help="Worker processes."),
    https: bool = typer.Option(
        False, "--https/--no-https", help="Behind TLS (a proxy): session cookie Secure + HSTS."
    ),
) -> None:
    """Run the web app: pages, APIs, collector. Migrates the metadata database first.

    Example: `dacu serve --host 0.0.0.0 --port 8000 --workers 4 --https` (behind a TLS proxy).
    With several workers each campaign's live monitor runs in one of them (elected by a file lock
    in DACU_MONITOR_DIR, taken over if that worker dies); the others forward its routes there.
    On loopback without --https the session cookie is not marked Secure so a browser on the same
    machine can log in over http://127.0.0.1.
    """
    import uvicorn

    from dacu.metadata import accounts

    db = _open()
    with db.session() as s:
        accounts.session_secret(s)  # created once, before the workers start
        admins = accounts.count_admins(s)
    if not https and not _loopback(host):
        raise DacuError(
            f"--host {host} is reachable from other machines: serve it behind a TLS "
            "proxy and pass --https (cookies must not travel in clear text)"
        )
    os.environ["DACU_COOKIE_SECURE"] = "1" if https else "0"
    if workers > 1:  # one worker runs each campaign's live monitor, the others forward to it
        os.environ["DACU_MONITOR_SHARED"] = "1"
    if admins == 0:
        typer.echo(
            "首次运行：还没有管理员。No admin yet — create one (you choose the password):\n"
            "  dacu user add admin --role admin",
            err=True,
        )
    typer.echo(f"dacu: http://{host}:{port}/  (metadata: {db.url})", err=True)
    db.dispose()
    trusted = trusted_proxies(https)
    uvicorn.run(
        "dacu.web.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        proxy_headers=bool(trusted),
        forwarded_allow_ips=",".join(trusted) or None,
        server_header=False,
    )


def trusted_proxies(https: bool) -> list[str]:
    """Addresses (or networks) of the proxies whose `X-Forwarded-For` names the client, from
    DACU_TRUSTED_PROXIES (comma-separated; `none` for none). Default: 127.0.0.1 with --https (a
    TLS proxy on this host), none without — a client cannot pick its own address to dodge the
    login and API rate limits."""
    raw = os.environ.get("DACU_TRUSTED_PROXIES")
    if raw is None:
        return ["127.0.0.1"] if https else []
    if raw.strip().lower() in ("", "none"):
        return []
    if "*" in raw:
        raise DacuError(
            "DACU_TRUSTED_PROXIES='*' would let any client choose its address (and dodge the "
            "rate limits): list the proxies' addresses, e.g. 10.0.0.5,10.0.1.0/24"
        )
    return [part.strip() for part in raw.split(",") if part.strip()]


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return typer.prompt("password / 密码", hide_input=True, confirmation_prompt=True)


@user_app.command("add")
def user_add(
    username: str = typer.Argument(..., help="Login name, e.g. admin or wang.li"),
    role: str = typer.Option("viewer", help="admin, operator or viewer."),
    name: str = typer.Option("", help="Display name (e.g. 王丽)."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from stdin (scripts)."
    ),
) -> None:
    """Add an account; asks for the password (at least 10 characters, stored as argon2id).

    Example: `dacu user add admin --role admin`; in a script:
    `printf '%s\\n' "$PW" | dacu user add ops1 --role operator --password-stdin`.
    """
    from dacu.metadata import accounts

    accounts.check_role(role)
    password = _read_password(password_stdin)
    with _open().session() as s:
        accounts.add_user(s, username, password, role, display_name=name, actor="cli")
    typer.echo(f"✓ user {username} ({role})")


@user_app.command("passwd")
def user_passwd(
    username: str = typer.Argument(...),
    password_stdin: bool = typer.Option(False, "--password-stdin"),
) -> None:
    """Set a new password for an account. Example: `dacu user passwd wang.li`."""
    from dacu.metadata import accounts

    password = _read_password(password_stdin)
    with _open().session() as s:
        accounts.set_password(s, username, password, actor="cli")
    typer.echo(f"✓ password of {username} changed")


@user_app.command("disable")
def user_disable(
    username: str = typer.Argument(...),
    enable: bool = typer.Option(False, "--enable", help="Re-enable instead."),
) -> None:
    """Disable an account (its sessions stop within 10 s). Example: `dacu user disable wang.li`."""
    from dacu.metadata import accounts

    with _open().session() as s:
        accounts.set_active(s, username, enable, actor="cli")
    typer.echo(f"✓ {username} {'enabled' if enable else 'disabled'}")


@user_app.command("list")
def user_list() -> None:
    """List accounts with their role. Example: `dacu user list`."""
    from dacu.metadata import accounts

    with _open().session() as s:
        for u in accounts.list_users(s):
            typer.echo(f"{u.username:<24} {u.role:<9} {'active' if u.active else 'disabled'}")


@key_app.command("create")
def key_create(
    name: str = typer.Option(..., help="Who uses it, e.g. 'shop-frontend'."),
    scope: list[str] = typer.Option(
        ..., "--scope", "-s", help="events:write, shop or metrics:read (repeat for several)."
    ),
) -> None:
    """Create an API key and print it once (only its hash is stored).

    Example: `dacu key create --name collector-1 --scope events:write`; clients send it as
    `Authorization: Bearer dacu_…`.
    """
    from dacu.metadata import accounts

    with _open().session() as s:
        new = accounts.create_key(s, name, scope, actor="cli")
    typer.echo(new.token)
    typer.echo(
        f"✓ key {new.key_id} ({' '.join(new.scopes)}) — copy it now, it is not shown again",
        err=True,
    )


@key_app.command("list")
def key_list() -> None:
    """List API keys (id, name, scopes, revoked). Example: `dacu key list`."""
    from dacu.metadata import accounts

    with _open().session() as s:
        for k in accounts.list_keys(s):
            state = "revoked" if k.revoked_at else "live"
            typer.echo(f"{k.key_id}  {k.name:<24} {k.scopes:<28} {state}")


@key_app.command("revoke")
def key_revoke(
    key_id: str = typer.Argument(..., help="The 12-hex id shown by `dacu key list`."),
) -> None:
    """Revoke an API key (takes effect within 10 s on running servers)."""
    from dacu.metadata import accounts

    with _open().session() as s:
        accounts.revoke_key(s, key_id, actor="cli")
    typer.echo(f"✓ key {key_id} revoked")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the metadata tables (also done by `dacu serve`).

    Example: `DACU_DB=postgresql://dacu@db.internal/dacu dacu db upgrade`.
    """
    from dacu.metadata import current_revision

    db = _open()
    typer.echo(f"✓ {db.url} at revision {current_revision(db)}")


@campaign_app.command("add")
def campaign_add(
    path: Path = typer.Argument(..., help="Campaign YAML file."),
    plan: Path | None = typer.Option(None, help="plan.json from `dacu plan build`."),
) -> None:
    """Register (or update) a campaign in the web app, optionally with its plan.

    Example: `dacu campaign add examples/double11.yaml --plan out/plan.json`.
    """
    from dacu.metadata import campaigns

    if not path.is_file():
        raise DacuError(f"{path}: no such campaign file")
    body = _read_plan(plan) if plan else None
    with _open().session() as s:
        row = campaigns.save_campaign(
            s, path.read_text(encoding="utf-8"), actor="cli", source=str(path)
        )
        version = campaigns.save_plan(s, row.id, body, actor="cli").version if body else None
    typer.echo(f"✓ campaign {row.id}" + (f", plan version {version}" if version else ""))


def _read_plan(path: Path) -> dict:
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DacuError(f"{path}: not a readable plan.json ({exc})") from exc
    if not isinstance(body, dict) or "campaign_id" not in body:
        raise DacuError(f"{path}: expected a plan.json object with campaign_id")
    from dacu.plan.schema import check_plan

    check_plan(body, source=str(path))  # a wrong plan never reaches the monitor or a page
    return body
