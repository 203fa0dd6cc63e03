"""Linked accounts (关联账户): a graph of customers joined by what they share — a device id, an IP
address, a delivery address, an identical basket — and its connected components
(`scipy.sparse.csgraph.connected_components`). A farm of accounts is one large component.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


@dataclass(frozen=True)
class Clusters:
    """`label[i]` is the component of `customers[i]`; `size[i]` the number of accounts in it."""

    customers: list[str]
    label: np.ndarray
    size: np.ndarray

    def of(self, customer: str) -> int:
        return int(self.size[self.customers.index(customer)])

    def groups(self, min_size: int = 2) -> list[list[str]]:
        """Components with at least `min_size` accounts, largest first (customer ids sorted)."""
        members: dict[int, list[str]] = {}
        for customer, lab in zip(self.customers, self.label, strict=True):
            members.setdefault(int(lab), []).append(customer)
        found = [sorted(m) for m in members.values() if len(m) >= min_size]
        return sorted(found, key=lambda m: (-len(m), m[0]))


def link_clusters(
    customers: Sequence[str], links: Iterable[tuple[str, str]], *, max_share: int = 1000
) -> Clusters:
    """Components of the bipartite graph customer — link (e.g. ("c1", "device:d9")).

    Links shared by more than `max_share` accounts (a campus NAT, a default value) are ignored:
    they join strangers. Customers not in `customers` are skipped.
    """
    import pandas as pd

    pairs = pd.DataFrame(list(links) or [("", "")], columns=["customer", "link"], dtype=object)
    rows_a = pd.Index(list(customers)).get_indexer(pairs["customer"]).astype(np.int64)
    ok = (rows_a >= 0) & (pairs["link"].fillna("").astype(str) != "").to_numpy()
    cols_a, uniques = pd.factorize(pairs["link"][ok])
    rows_a, cols_a = rows_a[ok], cols_a.astype(np.int64)
    n, m = len(customers), len(uniques)
    share = np.bincount(cols_a, minlength=m) if m else np.zeros(0, np.int64)
    keep = share[cols_a] <= max_share if m else np.zeros(0, bool)
    rows_a, cols_a = rows_a[keep], cols_a[keep] + n
    graph = coo_matrix((np.ones(len(rows_a)), (rows_a, cols_a)), shape=(n + m, n + m))
    _, label = connected_components(graph, directed=False)
    label = label[:n]
    size = np.bincount(label)[label] if n else np.zeros(0, np.int64)
    return Clusters(list(customers), label, size)


def audit_links(entries: Iterable[Any]) -> list[tuple[str, str]]:
    """(customer, "device:…"/"ip:…") pairs from the flash audit trail (`AuditEntry`)."""
    out = set()
    for entry in entries:
        if not entry.customer:
            continue
        if entry.device:
            out.add((entry.customer, f"device:{entry.device}"))
        if entry.ip:
            out.add((entry.customer, f"ip:{entry.ip}"))
    return sorted(out)
