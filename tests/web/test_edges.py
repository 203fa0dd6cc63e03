"""Accounts and routes at the edge (issue 21): password policy, login throttled per account as
well as per address, trusted proxies, owner-only files, idempotent key revocation, depth limit."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from dacu.errors import DacuError
from dacu.flash.sqlite_store import SQLiteStore
from dacu.metadata import accounts, audit, open_db, upgrade
from dacu.web.commands import trusted_proxies
from tests.flash.helpers import make_config
from tests.web.conftest import World, csrf_of, make_world, sqlite_db


@pytest.mark.parametrize(
    ("password", "why"),
    [
        (" " * 10, "blank"),
        ("  abc     \t ", "blank"),
        ("aaaaaaaaaaaa", "one character repeated"),
        ("1qaz2wsx3edc", "most common passwords"),
        ("Password123", "most common passwords"),  # the list is compared without case
        ("woaini1314", "most common passwords"),
        ("wang.li.ops", "user name"),
    ],
)
def test_weak_passwords_are_refused_with_the_reason(
    tmp_path: Path, password: str, why: str
) -> None:
    db = sqlite_db(tmp_path)
    with pytest.raises(DacuError, match=why), db.session() as s:
        accounts.add_user(s, "wang.li.ops", password, "operator")
    with db.session() as s:
        accounts.add_user(s, "wang.li.ops", "青岛-仓库-2026-双十一", "operator")  # a good one
        with pytest.raises(DacuError, match=why):
            accounts.set_password(s, "wang.li.ops", password, actor="admin")


def test_the_api_refuses_a_blank_password_as_a_problem(world: World) -> None:
    admin = world.session_of("admin")
    reply = admin.post(
        "/api/users", json={"username": "zhang.wei", "password": " " * 12, "role": "viewer"}
    )
    assert reply.status_code == 400 and "blank" in reply.json()["detail"]
    assert all(u["username"] != "zhang.wei" for u in admin.get("/api/users").json())


def test_login_is_throttled_per_account_from_any_address(tmp_path: Path) -> None:
    w = make_world(sqlite_db(tmp_path), tmp_path, login_account_limit=3)
    client = w.client()
    token = csrf_of(client.get("/login").text)

    def attempt(username: str, password: str) -> int:
        form = {"username": username, "password": password, "csrf_token": token}
        return client.post("/login", data=form, follow_redirects=False).status_code

    assert [attempt("admin", f"guess-number-{i}") for i in range(3)] == [401, 401, 401]
    assert attempt("admin", "admin-pass-12345") == 429  # even the right password, for a minute
    assert attempt("viewer", "viewer-pass-123") == 303  # another account is not affected
    with w.db.session() as s:
        assert [r.action for r in audit.recent(s, action="login.throttled")] == ["login.throttled"]


def test_trusted_proxies_default_and_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DACU_TRUSTED_PROXIES", raising=False)
    assert trusted_proxies(https=False) == []  # nobody may set its own address
    assert trusted_proxies(https=True) == ["127.0.0.1"]  # the TLS proxy on this host
    monkeypatch.setenv("DACU_TRUSTED_PROXIES", "10.0.0.5, 10.0.1.0/24")
    assert trusted_proxies(https=True) == ["10.0.0.5", "10.0.1.0/24"]
    monkeypatch.setenv("DACU_TRUSTED_PROXIES", "none")
    assert trusted_proxies(https=True) == []
    monkeypatch.setenv("DACU_TRUSTED_PROXIES", "*")
    with pytest.raises(DacuError, match="dodge"):
        trusted_proxies(https=True)


def test_serve_passes_the_trusted_proxies_to_uvicorn(tmp_path: Path, monkeypatch) -> None:
    import uvicorn

    from dacu.web import commands

    seen: dict = {}
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: seen.update(kw))
    monkeypatch.setenv("DACU_DB", f"sqlite:///{tmp_path / 'meta.sqlite'}")
    monkeypatch.delenv("DACU_TRUSTED_PROXIES", raising=False)
    commands.serve(host="127.0.0.1", port=0, workers=1, https=False)
    assert (seen["proxy_headers"], seen["forwarded_allow_ips"]) == (False, None)
    monkeypatch.setenv("DACU_TRUSTED_PROXIES", "10.0.0.5")
    commands.serve(host="0.0.0.0", port=0, workers=1, https=True)
    assert (seen["proxy_headers"], seen["forwarded_allow_ips"]) == (True, "10.0.0.5")


def test_metadata_db_and_flash_store_are_owner_only(tmp_path: Path) -> None:
    db = open_db(f"sqlite:///{tmp_path / 'meta.sqlite'}")
    upgrade(db)
    with db.session() as s:
        accounts.session_secret(s)
    assert stat.S_IMODE((tmp_path / "meta.sqlite").stat().st_mode) == 0o600
    old = tmp_path / "old.sqlite"
    old.touch(mode=0o644)
    old.chmod(0o644)
    open_db(f"sqlite:///{old}")
    assert stat.S_IMODE(old.stat().st_mode) == 0o600  # an older world-readable file is tightened

    store = SQLiteStore(tmp_path / "flash.sqlite", make_config())
    assert stat.S_IMODE((tmp_path / "flash.sqlite").stat().st_mode) == 0o600
    store.close()


def test_revoking_a_key_twice_is_204_with_one_audit_row(world: World) -> None:
    admin = world.session_of("admin")
    url = f"/api/keys/{world.spare_key_id}"
    assert [admin.delete(url).status_code for _ in range(3)] == [204, 204, 204]
    with world.db.session() as s:
        rows = [r for r in audit.recent(s, action="key.revoke") if r.target == world.spare_key_id]
    assert len(rows) == 1
    assert admin.delete("/api/keys/0123456789ab").status_code == 404
    assert admin.delete("/api/keys/..").status_code in (404, 422)


def test_a_deeply_nested_body_is_422_on_every_route(world: World) -> None:
    operator = world.session_of("operator")
    deep = b'{"yaml": ' + b"[" * 900 + b"]" * 900 + b"}"
    for url in ("/api/campaigns", f"/api/campaigns/{world.campaign_id}/plan", "/api/quote"):
        reply = operator.post(url, content=deep, headers={"Content-Type": "application/json"})
        assert reply.status_code == 422, (url, reply.text)
        assert "901 levels" in reply.json()["detail"]


def test_the_campaign_api_refuses_alias_bombs_unsafe_ids_and_unchecked_sections(
    world: World,
) -> None:
    from tests.conftest import ROOT

    operator = world.session_of("operator")
    bomb = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    for level in "bcdefghi":
        bomb += f"{level}: &{level} [{','.join(['*' + chr(ord(level) - 1)] * 9)}]\n"
    reply = operator.post("/api/campaigns", json={"yaml": bomb})
    assert reply.status_code == 400 and "aliases expand" in reply.json()["detail"]
    example = (ROOT / "examples" / "double11.yaml").read_text(encoding="utf-8")
    dots = example.replace("id: double11-2026", "id: '..'", 1)
    reply = operator.post("/api/campaigns", json={"yaml": dots})
    assert reply.status_code == 400 and "id:" in reply.json()["detail"]
    sale = example.replace("end: 2026-11-11 20:30}", "end: 2026-11-11 19:30}")
    reply = operator.post("/api/campaigns", json={"yaml": sale})
    assert (
        reply.status_code == 400 and "flash_sales[0] (id lipstick-2000)" in reply.json()["detail"]
    )
    assert [c["id"] for c in operator.get("/api/campaigns").json()] == [world.campaign_id]


def test_the_campaign_and_quote_apis_name_every_problem_of_the_promotions(world: World) -> None:
    from tests.test_config_edges import SEVERAL, assert_every_problem

    operator = world.session_of("operator")
    reply = operator.post("/api/campaigns", json={"yaml": SEVERAL})
    assert reply.status_code == 400
    assert_every_problem(reply.json()["detail"])
    inline = [
        {"id": "p1", "type": "every", "every": 0, "discount": 5},
        {"id": "p2", "type": "flash", "price": 149, "group": "g"},
    ]
    cart = {"lines": [{"sku_id": "A", "price": 100, "quantity": 1}]}
    reply = operator.post("/api/quote", json={"promotions": inline, "cart": cart})
    assert reply.status_code == 422
    detail = reply.json()["detail"]
    assert "promotions[0] (id p1).every" in detail and "promotions[1] (id p2).group" in detail
