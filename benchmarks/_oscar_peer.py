"""Peer for `benchmarks/promo.py`: django-oscar applying equivalent offers to the same cart.

Runs ONLY inside a separate venv with django-oscar installed (not a dacu dependency):
benchmarks/promo.py starts it as a subprocess in .bench/oscar-venv, which benchmarks/_peers.py
sets up from PyPI on first use. Prints one JSON object.

The cart: A1 ¥299 ×1, A2 ¥89 ×2, A3 ¥59 ×1. Offers (both non-exclusive, as in dacu):
  1. 限时9折 on A1  → Range{A1}, COUNT condition 1, PERCENTAGE benefit 10
  2. 满300减40      → Range{all}, VALUE condition 300, ABSOLUTE benefit 40
"""

from __future__ import annotations

import json
import sys
import time
from decimal import Decimal

import django
from django.conf import settings

OSCAR_APPS = [
    "oscar.config.Shop",
    "oscar.apps.analytics.apps.AnalyticsConfig",
    "oscar.apps.checkout.apps.CheckoutConfig",
    "oscar.apps.address.apps.AddressConfig",
    "oscar.apps.shipping.apps.ShippingConfig",
    "oscar.apps.catalogue.apps.CatalogueConfig",
    "oscar.apps.catalogue.reviews.apps.CatalogueReviewsConfig",
    "oscar.apps.communication.apps.CommunicationConfig",
    "oscar.apps.partner.apps.PartnerConfig",
    "oscar.apps.basket.apps.BasketConfig",
    "oscar.apps.payment.apps.PaymentConfig",
    "oscar.apps.offer.apps.OfferConfig",
    "oscar.apps.order.apps.OrderConfig",
    "oscar.apps.customer.apps.CustomerConfig",
    "oscar.apps.search.apps.SearchConfig",
    "oscar.apps.voucher.apps.VoucherConfig",
    "oscar.apps.wishlists.apps.WishlistsConfig",
    "oscar.apps.dashboard.apps.DashboardConfig",
    *(
        f"oscar.apps.dashboard.{name}.apps.{cls}DashboardConfig"
        for name, cls in (
            ("reports", "Reports"),
            ("users", "Users"),
            ("orders", "Orders"),
            ("catalogue", "Catalogue"),
            ("offers", "Offers"),
            ("partners", "Partners"),
            ("pages", "Pages"),
            ("ranges", "Ranges"),
            ("reviews", "Reviews"),
            ("vouchers", "Vouchers"),
            ("communications", "Communications"),
            ("shipping", "Shipping"),
        )
    ),
]


def configure() -> None:
    import oscar.defaults as defaults

    options = {k: getattr(defaults, k) for k in dir(defaults) if k.startswith("OSCAR_")}
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench",
        USE_TZ=True,
        SITE_ID=1,
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "django.contrib.sites",
            "django.contrib.flatpages",
            *OSCAR_APPS,
            "widget_tweaks",
            "haystack",
            "treebeard",
            "django_tables2",
        ],
        HAYSTACK_CONNECTIONS={
            "default": {"ENGINE": "haystack.backends.simple_backend.SimpleEngine"}
        },
        OSCAR_DEFAULT_CURRENCY="CNY",
        **{k: v for k, v in options.items() if k != "OSCAR_DEFAULT_CURRENCY"},
    )
    django.setup()
    from django.core.management import call_command

    call_command("migrate", run_syncdb=True, verbosity=0)


def build() -> object:
    from oscar.apps.basket.models import Basket
    from oscar.apps.catalogue.models import Product, ProductClass
    from oscar.apps.offer.models import Benefit, Condition, ConditionalOffer, Range
    from oscar.apps.partner.models import Partner, StockRecord
    from oscar.apps.partner.strategy import Selector

    kind = ProductClass.objects.create(name="goods", track_stock=False, requires_shipping=False)
    partner = Partner.objects.create(name="A")
    products = {}
    for sku, price in (("A1", "299"), ("A2", "89"), ("A3", "59")):
        product = Product.objects.create(title=sku, product_class=kind, upc=sku)
        StockRecord.objects.create(
            product=product,
            partner=partner,
            partner_sku=sku,
            price=Decimal(price),
            num_in_stock=1000,
        )
        products[sku] = product
    only_a1 = Range.objects.create(name="A1")
    only_a1.add_product(products["A1"])
    everything = Range.objects.create(name="all", includes_all_products=True)
    _offer("限时9折", only_a1, Condition.COUNT, 1, Benefit.PERCENTAGE, 10, 2, ConditionalOffer)
    _offer("满300减40", everything, Condition.VALUE, 300, Benefit.FIXED, 40, 1, ConditionalOffer)
    basket = Basket.objects.create()
    basket.strategy = Selector().strategy()
    for sku, qty in (("A1", 1), ("A2", 2), ("A3", 1)):
        basket.add_product(products[sku], qty)
    return basket


def _offer(name, rng, ctype, cvalue, btype, bvalue, priority, model) -> None:
    from oscar.apps.offer.models import Benefit, Condition

    condition = Condition.objects.create(range=rng, type=ctype, value=Decimal(cvalue))
    benefit = Benefit.objects.create(range=rng, type=btype, value=Decimal(bvalue))
    model.objects.create(
        name=name,
        offer_type=model.SITE,
        condition=condition,
        benefit=benefit,
        exclusive=False,
        priority=priority,
    )


def measure(fn, seconds: float) -> dict:
    fn()
    latencies, start, cpu = [], time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        fn()
        latencies.append(time.perf_counter() - t0)
    cpu = time.process_time() - cpu
    return {
        "n": len(latencies),
        "cpu_s": cpu,
        "wall_s": sum(latencies),
        "latencies": sorted(latencies)[:: max(1, len(latencies) // 2000)],
    }


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    configure()
    from oscar.apps.offer.applicator import Applicator

    basket = build()
    applicator = Applicator()
    offers = list(applicator.get_offers(basket))  # preloaded: the offer computation alone
    for offer in offers:
        offer.condition.proxy(), offer.benefit.proxy(), offer.condition.range, offer.benefit.range

    def preloaded() -> Decimal:
        basket.reset_offer_applications()
        applicator.apply_offers(basket, offers)
        return basket.total_excl_tax

    def from_db() -> Decimal:
        basket.reset_offer_applications()
        applicator.apply(basket)
        return basket.total_excl_tax

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    total = preloaded()
    assert total == from_db()
    with CaptureQueriesContext(connection) as queries:
        preloaded()
    print(
        json.dumps(
            {
                "total_fen": int(total * 100),
                "django": django.get_version(),
                "queries_per_apply": len(queries.captured_queries),
                "preloaded": measure(preloaded, seconds),
                "from_db": measure(from_db, seconds / 3),
            }
        )
    )


if __name__ == "__main__":
    main()
