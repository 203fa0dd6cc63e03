"""Worker processes for the concurrency and kill -9 tests (run with multiprocessing or as
`python -m tests.flash.workers chaos URL CONFIG_JSON FIRST LAST`)."""

from __future__ import annotations

import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from dacu.flash import FlashConfig, Who, open_store


def race(
    url: str, config_json: str, op: str, customers: list[str], threads: int, start: float
) -> list[tuple[str, str | None]]:
    """Every customer tries once (`reserve` a unit or `claim` a coupon); returns (reason, ref).

    Every request has its own idempotency key: these are different requests, not retries.
    """
    config = FlashConfig.model_validate_json(config_json)
    began = time.time()
    store = open_store(url, config, clock=lambda: start + (time.time() - began), setup=False)

    def one(index_customer: tuple[int, str]) -> tuple[str, str | None]:
        _, customer = index_customer
        key = f"{op}-{customer}-{uuid.uuid4().hex}"
        if op == "reserve":
            outcome = store.reserve("lipstick", Who(customer), key=key)
        else:
            outcome = store.claim("c20", Who(customer), key=key)
        return outcome.reason.value, outcome.ref

    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(one, enumerate(customers)))
    store.close()
    return results


def chaos(url: str, config_json: str, first: int, last: int, start: float) -> None:
    """Customers first..last-1 each: reserve, then confirm (i%3==0) or cancel (i%3==1) or keep
    the hold; claim a coupon, redeem it (i even), release it again (i%4==0). Deterministic keys,
    so a restarted worker retries exactly the same requests."""
    config = FlashConfig.model_validate_json(config_json)
    began = time.time()
    store = open_store(url, config, clock=lambda: start + (time.time() - began), setup=False)

    def one(i: int) -> None:
        who = Who(f"cust-{i}")
        hold = store.reserve("lipstick", who, key=f"res-{i}")
        if hold.ok and i % 3 == 0:
            store.confirm(hold.ref, f"order-{i}", key=f"conf-{i}", customer=who.customer)
        elif hold.ok and i % 3 == 1:
            store.cancel(hold.ref, key=f"can-{i}", customer=who.customer)
        coupon = store.claim("c20", who, key=f"cl-{i}")
        if coupon.ok and i % 2 == 0:
            store.redeem(coupon.ref, f"order-{i}", who, key=f"red-{i}")
            if i % 4 == 0:
                store.release(coupon.ref, f"order-{i}", key=f"rel-{i}")
        print(i, flush=True)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(first, last)))
    store.close()


if __name__ == "__main__":
    _, command, url, config_path, first, last, start = sys.argv
    if command == "chaos":
        with open(config_path, encoding="utf-8") as handle:
            chaos(url, handle.read(), int(first), int(last), float(start))
