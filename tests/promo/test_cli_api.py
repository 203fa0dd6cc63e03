"""`dacu quote` and `POST /api/quote` on examples/double11.yaml (the cart of test_double11)."""

from __future__ import annotations

import json

import pytest
import typer
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from dacu.errors import InputError
from dacu.promo import api
from dacu.promo.commands import register

CART = {
    "lines": [
        {"sku_id": "SKU-SK-001", "price": 299, "quantity": 1, "category": "skincare"},
        {"sku_id": "SKU-SK-002", "price": 199, "quantity": 2, "category": "skincare"},
        {"sku_id": "SKU-MK-002", "price": 89, "quantity": 2, "category": "makeup"},
    ]
}
WALLET = ["store-coupon-20", {"id": "rp-10", "scope": "red_packet", "discount": 10}]


@pytest.fixture
def cli(tmp_path, examples_dir):
    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)  # a second command keeps typer in multi-command mode
    (tmp_path / "cart.json").write_text(json.dumps(CART), encoding="utf-8")
    (tmp_path / "coupons.json").write_text(json.dumps(WALLET), encoding="utf-8")
    (tmp_path / "customer.json").write_text('{"id": "u1"}', encoding="utf-8")
    base = [
        "quote",
        "--campaign",
        str(examples_dir / "double11.yaml"),
        "--cart",
        str(tmp_path / "cart.json"),
        "--customer",
        str(tmp_path / "customer.json"),
        "--coupons",
        str(tmp_path / "coupons.json"),
        "--at",
        "2026-11-11T10:00:00+08:00",
    ]
    return app, base, tmp_path


def test_cli_json(cli):
    app, base, _ = cli
    result = CliRunner().invoke(app, [*base, "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    # hand computation in test_double11.test_stacked_cart_tmall_rules: ¥600.50
    assert data["total_fen"] == 60050
    assert {"sku_id", "list_fen", "paid_fen", "discounts"} <= set(data["lines"][0])
    assert {"id": "store-tiers", "name": "满300减40 满600减100", "stage": "store"}.items() <= data[
        "lines"
    ][0]["discounts"][0].items()
    assert sum(line["paid_fen"] for line in data["lines"]) == 60050
    assert {a["id"] for a in data["applied"]} >= {"store-tiers", "platform-every", "rp-10"}
    assert any(n["id"] == "lipstick-2000" for n in data["not_applied"])
    assert data["breakdown_zh"].startswith("商品原价 ¥875.00，共优惠 ¥274.50")


def test_cli_table(cli):
    app, base, _ = cli
    result = CliRunner().invoke(app, [*base, "--format", "table"])
    assert result.exit_code == 0, result.output
    assert "应付 ¥600.50" in result.output
    assert "to pay ¥600.50" in result.output


def test_cli_bad_cart_names_file_and_line(cli):
    app, base, tmp_path = cli
    (tmp_path / "cart.json").write_text(
        '{"lines": [{"sku_id": "A", "price": 1, "quantity": -2}]}', encoding="utf-8"
    )
    result = CliRunner().invoke(app, base)
    assert isinstance(result.exception, InputError)
    assert "cart.json: lines[0] (sku A), column 'quantity'" in str(result.exception)
    (tmp_path / "cart.json").write_text('{"lines": [', encoding="utf-8")
    result = CliRunner().invoke(app, base)
    assert "not valid JSON" in str(result.exception) and "line 1" in str(result.exception)


@pytest.fixture
def client(monkeypatch, examples_dir):
    monkeypatch.setenv("DACU_CAMPAIGNS", str(examples_dir))
    app = FastAPI()
    app.include_router(api.router)
    return TestClient(app)


def test_api_quote_by_campaign_id(client):
    response = client.post(
        "/api/quote",
        json={
            "campaign": "double11-2026",
            "cart": CART,
            "customer": {"id": "u1"},
            "coupons": WALLET,
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["total_fen"] == 60050


def test_api_quote_inline_rules(client):
    body = {
        "cart": {"lines": [{"sku_id": "A", "price": 650}]},
        "promotions": [
            {
                "id": "t",
                "type": "threshold",
                "tiers": [{"threshold": 300, "discount": 40}, {"threshold": 600, "discount": 100}],
            }
        ],
    }
    response = client.post("/api/quote", json=body)
    assert response.status_code == 200
    assert response.json()["total_fen"] == 55000  # 650 − 100


def test_api_errors(client):
    bad = client.post(
        "/api/quote",
        json={"campaign": "double11-2026", "cart": {"lines": [{"sku_id": "A", "price": "x"}]}},
    )
    assert bad.status_code == 422
    assert "lines[0] (sku A), column 'price'" in bad.json()["detail"]
    missing = client.post("/api/quote", json={"campaign": "nope", "cart": CART})
    assert missing.status_code == 404
