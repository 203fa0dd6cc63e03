"""Tables of the SQLite store (one file, WAL). Counters live in one row per template/session, so
every check-and-change is one `UPDATE … WHERE` inside one `BEGIN IMMEDIATE` transaction."""

from __future__ import annotations

DDL = """
CREATE TABLE IF NOT EXISTS coupon_templates (
    id TEXT PRIMARY KEY, quantity INTEGER NOT NULL, per_customer INTEGER NOT NULL,
    new_only INTEGER NOT NULL, valid_from_ms INTEGER NOT NULL, valid_to_ms INTEGER NOT NULL,
    threshold_fen INTEGER NOT NULL,
    issued INTEGER NOT NULL DEFAULT 0, held INTEGER NOT NULL DEFAULT 0,
    redeemed INTEGER NOT NULL DEFAULT 0, expired INTEGER NOT NULL DEFAULT 0,
    CHECK (issued <= quantity AND held >= 0 AND redeemed >= 0 AND expired >= 0));
CREATE TABLE IF NOT EXISTS coupon_claims (
    template TEXT NOT NULL, customer TEXT NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (template, customer)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS coupons (
    id TEXT PRIMARY KEY, template TEXT NOT NULL, customer TEXT NOT NULL, state TEXT NOT NULL,
    order_id TEXT, issued_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS coupons_held ON coupons (template, state);
CREATE TABLE IF NOT EXISTS flash_sessions (
    sale TEXT NOT NULL, session TEXT NOT NULL, stock INTEGER NOT NULL,
    sold INTEGER NOT NULL DEFAULT 0, reserved INTEGER NOT NULL DEFAULT 0,
    available INTEGER NOT NULL, PRIMARY KEY (sale, session),
    CHECK (available >= 0 AND reserved >= 0 AND sold >= 0));
CREATE TABLE IF NOT EXISTS flash_buyers (
    sale TEXT NOT NULL, customer TEXT NOT NULL, units INTEGER NOT NULL,
    PRIMARY KEY (sale, customer)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS reservations (
    n INTEGER PRIMARY KEY AUTOINCREMENT, sale TEXT NOT NULL, session TEXT NOT NULL,
    customer TEXT NOT NULL, quantity INTEGER NOT NULL, state TEXT NOT NULL,
    expires_ms INTEGER NOT NULL, order_id TEXT, created_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS reservations_due ON reservations (sale, state, expires_ms);
CREATE TABLE IF NOT EXISTS idempotency (
    op TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL, outcome TEXT NOT NULL,
    created_ms INTEGER NOT NULL, PRIMARY KEY (op, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS guard_buckets (
    subject TEXT PRIMARY KEY, tokens REAL NOT NULL, ts_ms INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS guard_blocks (
    subject TEXT PRIMARY KEY, until_ms INTEGER, reason TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS guard_failures (subject TEXT NOT NULL, ts_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS guard_failures_subject ON guard_failures (subject, ts_ms);
CREATE TABLE IF NOT EXISTS gift_stock (
    id TEXT PRIMARY KEY, stock INTEGER NOT NULL, given INTEGER NOT NULL DEFAULT 0,
    CHECK (given >= 0 AND given <= stock));
CREATE TABLE IF NOT EXISTS store_secret (
    id INTEGER PRIMARY KEY CHECK (id = 1), value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit (
    n INTEGER PRIMARY KEY AUTOINCREMENT, ts_ms INTEGER NOT NULL, op TEXT NOT NULL,
    target TEXT NOT NULL, customer TEXT, device TEXT, ip TEXT, outcome TEXT NOT NULL,
    ref TEXT, detail TEXT);
CREATE INDEX IF NOT EXISTS audit_customer ON audit (customer, ts_ms);
CREATE INDEX IF NOT EXISTS audit_target ON audit (target, ts_ms);
"""
