"""`dacu flash …` on the example campaign, and the campaign sections' error messages."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from dacu.cli import app
from dacu.config import load_campaign, parse_campaign
from dacu.errors import ConfigError
from dacu.flash import Who, load_flash, open_store
from tests.flash.helpers import T0

runner = CliRunner()


def test_example_campaign_sections(examples_dir):
    config = load_flash(load_campaign(examples_dir / "double11.yaml"))
    coupon = config.template("store-coupon-20")
    # 满199减20: threshold ¥199 = 19900 fen, discount ¥20 = 2000 fen
    assert (coupon.threshold, coupon.discount, coupon.quantity) == (19900, 2000, 50000)
    sale = config.sale("lipstick-2000")
    assert sale.price == 9900 and [s.id for s in sale.sessions] == ["2000"]
    assert sale.sessions[0].start.isoformat() == "2026-11-11T20:00:00+08:00"
    assert config.guards.failed_redemptions_to_block == 5


def test_status_shows_live_counts(examples_dir, tmp_path):
    url = f"sqlite:///{tmp_path / 'f.db'}"
    campaign = examples_dir / "double11.yaml"
    store = open_store(url, load_flash(load_campaign(campaign)), clock=lambda: T0)
    store.claim("store-coupon-20", Who("u1"), key="a")
    store.reserve("lipstick-2000", Who("u1"), key="b")
    result = runner.invoke(app, ["flash", "status", "-c", str(campaign), "--store", url, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (
        data["coupons"][0].items()
        >= {"template": "store-coupon-20", "issued": 1, "held": 1}.items()
    )
    assert (
        data["flash_sales"][0].items()
        >= {"sale": "lipstick-2000", "reserved": 1, "available": 1999}.items()
    )
    table = runner.invoke(app, ["flash", "status", "-c", str(campaign), "--store", url])
    assert "store-coupon-20" in table.output and "1,999" in table.output
    checked = runner.invoke(app, ["flash", "check", "-c", str(campaign), "--store", url])
    assert checked.exit_code == 0 and "✓" in checked.output


def test_bad_coupon_item_names_section_id_and_field():
    text = """
id: t
name: t
store: s
phases: [{name: burst, start: 2026-11-11 00:00, end: 2026-11-12 00:00}]
coupons:
  - {id: ok-one, discount: 5, quantity: 10}
  - {id: broken, discount: 5, quantity: 0}
"""
    with pytest.raises(ConfigError, match=r"coupons\[1\] \(id broken\)\.quantity"):
        load_flash(parse_campaign(text))
    with pytest.raises(ConfigError, match=r"coupons\[0\] \(id x\).*either discount"):
        load_flash(
            parse_campaign(
                text.replace(
                    "  - {id: ok-one, discount: 5, quantity: 10}\n  - {id: broken, discount: 5, "
                    "quantity: 0}",
                    "  - {id: x, quantity: 3}",
                )
            )
        )


def test_bad_store_url_says_what_is_expected(examples_dir):
    from dacu.errors import StoreError

    config = load_flash(load_campaign(examples_dir / "double11.yaml"))
    with pytest.raises(StoreError, match="expected sqlite:///path or redis://"):
        open_store("mysql://x", config)
