"""Users (argon2id password hashes), API keys with scopes, and the shared session secret.

Passwords are hashed with argon2id (argon2-cffi defaults, RFC 9106 low-memory profile). API keys
are random 256-bit secrets, so a fast SHA-256 of the secret is enough to store them (a slow hash
protects guessable passwords, not random keys); the key id in the token finds the row.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from dacu.errors import DacuError
from dacu.metadata import audit
from dacu.metadata.models import (
    ROLES,
    SCOPES,
    ApiKeyRow,
    SessionRow,
    SettingRow,
    UserRow,
    utcnow,
)

_HASHER = PasswordHasher()
_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")
_TOKEN = re.compile(r"^dacu_(?P<key_id>[0-9a-f]{12})_(?P<secret>[A-Za-z0-9_-]{20,})$")
MIN_PASSWORD = 10
# A hash to verify against when the user does not exist, so timing does not reveal usernames.
_DUMMY_HASH = _HASHER.hash("not-a-real-password")


@dataclass(frozen=True)
class NewKey:
    """A created API key: `token` is shown once and never stored."""

    key_id: str
    token: str
    scopes: tuple[str, ...]


# 20,000 most common passwords (Royce Williams' list as shipped by Django, BSD licence).
COMMON_PASSWORDS = Path(__file__).resolve().parent / "common-passwords.txt.gz"


@lru_cache(maxsize=1)
def _common() -> frozenset[str]:
    with gzip.open(COMMON_PASSWORDS, "rt", encoding="utf-8") as handle:
        return frozenset(line.strip().lower() for line in handle if line.strip())


def password_problem(password: str, username: str = "") -> str | None:
    """Why a password is refused (密码要求), or None: at least MIN_PASSWORD characters that are not
    all blank, not one character repeated, not the user name, not a common password."""
    stripped = password.strip()
    if len(password) < MIN_PASSWORD:
        return f"password too short: {len(password)} characters, need {MIN_PASSWORD}+"
    if len(stripped) < MIN_PASSWORD:
        return f"password is blank or padded with spaces: need {MIN_PASSWORD}+ visible characters"
    if len(set(stripped)) == 1:
        return "password is one character repeated: choose one that is hard to guess"
    if username and stripped.lower() == username.lower():
        return "password is the user name: choose one that is hard to guess"
    if stripped.lower() in _common():
        return "password is on the list of the 20,000 most common passwords: choose another"
    return None


def hash_password(password: str, username: str = "") -> str:
    problem = password_problem(password, username)
    if problem:
        raise DacuError(problem)
    return _HASHER.hash(password)


def check_role(role: str) -> str:
    if role not in ROLES:
        raise DacuError(f"role {role!r} unknown: expected one of {', '.join(ROLES)}")
    return role


def add_user(
    session: Session,
    username: str,
    password: str,
    role: str,
    *,
    display_name: str = "",
    actor: str = "cli",
) -> UserRow:
    """Create a user; raises DacuError for a bad name, role, short password or existing user."""
    if not _USERNAME.match(username):
        raise DacuError(f"username {username!r}: expected 2-64 letters, digits or _.@-")
    check_role(role)
    if session.scalar(select(UserRow).where(UserRow.username == username)):
        raise DacuError(f"user {username!r} exists already")
    user = UserRow(
        username=username,
        display_name=display_name or username,
        role=role,
        password_hash=hash_password(password, username),
    )
    session.add(user)
    audit.record(session, actor, "user.add", username, {"role": role})
    return user


def set_password(session: Session, username: str, password: str, *, actor: str) -> None:
    user = get_user(session, username)
    if user is None:
        raise DacuError(f"no user {username!r}")
    user.password_hash = hash_password(password, username)
    end_sessions(session, username)
    audit.record(session, actor, "user.password", username)


def set_active(session: Session, username: str, active: bool, *, actor: str) -> None:
    """Disable (or re-enable) an account: its sessions stop working within the cache time."""
    user = get_user(session, username)
    if user is None:
        raise DacuError(f"no user {username!r}")
    user.active = active
    if not active:
        end_sessions(session, username)
    audit.record(session, actor, "user.enable" if active else "user.disable", username)


def get_user(session: Session, username: str) -> UserRow | None:
    return session.scalar(select(UserRow).where(UserRow.username == username))


def list_users(session: Session) -> list[UserRow]:
    return list(session.scalars(select(UserRow).order_by(UserRow.username)))


def count_admins(session: Session) -> int:
    rows = session.scalars(select(UserRow).where(UserRow.role == "admin", UserRow.active))
    return len(list(rows))


def authenticate(session: Session, username: str, password: str) -> UserRow | None:
    """The active user with this name and password, else None (same work either way)."""
    user = get_user(session, username)
    stored = user.password_hash if user and user.active else _DUMMY_HASH
    try:
        _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if _HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = _HASHER.hash(password)
    user.last_login_at = utcnow()
    return user


def check_scopes(scopes: Sequence[str]) -> tuple[str, ...]:
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise DacuError(
            f"scope {', '.join(unknown) or '(none)'}: expected one or more of {', '.join(SCOPES)}"
        )
    return tuple(dict.fromkeys(scopes))


def create_key(session: Session, name: str, scopes: Sequence[str], *, actor: str = "cli") -> NewKey:
    """Create an API key; the returned token is the only time the secret is visible."""
    chosen = check_scopes(scopes)
    key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    session.add(
        ApiKeyRow(
            key_id=key_id,
            name=name,
            scopes=" ".join(chosen),
            secret_sha256=_sha256(secret),
            created_by=actor,
        )
    )
    audit.record(session, actor, "key.create", key_id, {"name": name, "scopes": list(chosen)})
    return NewKey(key_id, f"dacu_{key_id}_{secret}", chosen)


def verify_key(session: Session, token: str) -> ApiKeyRow | None:
    """The live key row for a presented token, else None."""
    match = _TOKEN.match(token.strip())
    if not match:
        return None
    row = session.get(ApiKeyRow, match["key_id"])
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.secret_sha256, _sha256(match["secret"])):
        return None
    return row


def revoke_key(session: Session, key_id: str, *, actor: str) -> bool:
    """Revoke a key; False (and no audit row) when it was revoked already (DELETE is idempotent)."""
    row = session.get(ApiKeyRow, key_id)
    if row is None:
        raise DacuError(f"no API key {key_id!r}")
    if row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    audit.record(session, actor, "key.revoke", key_id)
    return True


def list_keys(session: Session) -> list[ApiKeyRow]:
    return list(session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_at)))


def start_session(session: Session, username: str, max_age: int) -> str:
    """A new browser session for `username`, valid `max_age` seconds; returns its id."""
    now = utcnow()
    session.execute(delete(SessionRow).where(SessionRow.expires_at < now))
    sid = secrets.token_urlsafe(32)
    session.add(SessionRow(sid=sid, username=username, expires_at=now + timedelta(seconds=max_age)))
    return sid


def session_user(session: Session, sid: str) -> UserRow | None:
    """The active user of a live session, else None."""
    row = session.get(SessionRow, sid)
    if row is None or row.expires_at < utcnow():
        return None
    user = get_user(session, row.username)
    return user if user and user.active else None


def end_session(session: Session, sid: str) -> None:
    session.execute(delete(SessionRow).where(SessionRow.sid == sid))


def end_sessions(session: Session, username: str) -> None:
    """Log a user out everywhere (password changed, account disabled)."""
    session.execute(delete(SessionRow).where(SessionRow.username == username))


def session_secret(session: Session) -> str:
    """The cookie-signing secret, created once and shared by every worker and host."""
    row = session.get(SettingRow, "session_secret")
    if row is None:
        row = SettingRow(key="session_secret", value=secrets.token_urlsafe(48))
        session.add(row)
        session.flush()
    return row.value


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
