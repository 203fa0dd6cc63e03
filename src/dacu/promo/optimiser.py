"""The best combination (最优组合): which held coupons and which exclusive promotions to use.

Decisions are the *candidates*: every held coupon and every promotion of an exclusive group. A
combination is valid when no two chosen candidates share a tag (a coupon slot — one store coupon
per store, one platform coupon, one red packet … — or an exclusive group). Promotions outside any
group always apply. The payable total of a combination is computed stage by stage exactly as the
quote reports it, so the optimum found is the optimum of what the customer would pay.

Algorithm: depth-first branch-and-bound over the stages (item → store → platform → payment). At a
stage every valid subset of that stage's candidates is a branch; applying it gives the amounts the
next stage starts from. Two devices keep it fast, neither loses optimality:

* **Bound.** Every value function is monotone (a lower amount never gives a larger discount), and
  amounts only fall from stage to stage. So from a node with goods amounts A, the final total is at
  least ``max(0, ΣA − U) + F`` where U sums, for every promotion still to apply, its discount valued
  on A (or on its fixed earlier snapshot), plus for every still-free slot or group the largest such
  value among its candidates; F is the shipping fee of each store whose free-shipping threshold is
  already out of reach. A branch whose bound is not below the best total found is cut. Branches
  are tried in order of their bound, so the first leaf is the greedy choice and most are cut.
* **Memoisation.** The rest of the search depends only on the stage, the amount snapshots later
  thresholds read, and the tags already used; equal states reached by different choices are solved
  once (exact results, or "at least X" when a branch was cut).

Worst case it visits every valid combination, Π(|slot|+1) × Π(|group|+1), each costing one stage
evaluation, O(lines × effects); in practice the bound cuts all but a handful (see BENCHMARKS.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dacu.money import allocate
from dacu.promo.compile import Compiled
from dacu.promo.effects import Effect, Value
from dacu.promo.rules import STAGES

N_STAGES = len(STAGES)
INF = float("inf")
Record = list[tuple[Effect, tuple[int, ...]]]


@dataclass(frozen=True)
class Solution:
    total_fen: int
    chosen: tuple[Effect, ...]
    nodes: int


class Search:
    """One cart's search state: effects by stage, value cache, memo."""

    def __init__(self, comp: Compiled) -> None:
        self.comp = comp
        self.auto: list[list[Effect]] = [[] for _ in STAGES]
        self.cands: list[list[Effect]] = [[] for _ in STAGES]
        for effect in comp.effects:
            (self.cands if effect.tags else self.auto)[effect.stage].append(effect)
        self.cache: dict[tuple[int, tuple[int, ...]], Value] = {}
        self.memo: dict[tuple, tuple[float, tuple[Effect, ...] | None, bool]] = {}
        self.options_cache: dict[tuple[int, frozenset[str]], list] = {}
        self.nodes = 0
        self._plan_keys()

    def _plan_keys(self) -> None:
        """Which snapshots and tags each stage's remaining search depends on (the memo key)."""
        self.needed: list[tuple[int, ...]] = []
        self.tags_from: list[frozenset[str]] = []
        for s in range(N_STAGES + 1):
            later = [e for t in range(s, N_STAGES) for e in self.auto[t] + self.cands[t]]
            snaps = {e.snap for e in later} | {e.snap for e in self.comp.shipping} | {s}
            self.needed.append(tuple(sorted(k for k in snaps if k <= s)))
            self.tags_from.append(frozenset(tag for e in later for tag in e.tags))

    # -- evaluation ------------------------------------------------------------------------------
    def value(self, effect: Effect, amounts: Sequence[int]) -> Value:
        key = (id(effect), tuple(amounts[i] for i in effect.lines))
        found = self.cache.get(key)
        if found is None:
            found = self.cache[key] = effect.fn(key[1])
        return found

    def apply(self, s: int, snaps: tuple[tuple[int, ...], ...], effects: Sequence[Effect],
              record: Record | None = None) -> tuple[int, ...]:
        """Amounts after stage `s`: each effect valued on its base, allocated on current amounts."""
        current = list(snaps[s])
        for effect in effects:
            total, explicit = self.value(effect, snaps[effect.snap])
            if explicit is None:
                eligible = [current[i] for i in effect.lines]
                total = min(total, sum(eligible))
                if total <= 0:
                    continue
                shares = tuple(allocate(total, eligible))
            else:
                shares = tuple(min(x, current[i]) for x, i in zip(explicit, effect.lines, strict=True))
            for i, share in zip(effect.lines, shares, strict=True):
                current[i] -= share
            if record is not None:
                record.append((effect, shares))
        return tuple(current)

    def shipping(self, snaps: tuple[tuple[int, ...], ...]) -> int:
        waived = {e.store for e in self.comp.shipping
                  if sum(snaps[e.snap][i] for i in e.lines) >= e.rule.threshold}
        return sum(fee for store, fee in self.comp.fees.items() if store not in waived)

    def total(self, snaps: tuple[tuple[int, ...], ...]) -> int:
        return sum(snaps[N_STAGES]) + self.shipping(snaps)

    # -- search ----------------------------------------------------------------------------------
    def options(self, s: int, used: frozenset[str]) -> list[tuple[tuple[Effect, ...], frozenset[str]]]:
        key = (s, used)
        if key not in self.options_cache:
            out: list[tuple[tuple[Effect, ...], frozenset[str]]] = []
            _subsets(self.cands[s], 0, (), used, out)
            self.options_cache[key] = out
        return self.options_cache[key]

    def lower_bound(self, s: int, snaps: tuple[tuple[int, ...], ...], used: frozenset[str]) -> int:
        current = snaps[-1]
        bound = 0
        best_per_tag: dict[str, int] = {}
        for t in range(s, N_STAGES):
            for effect in self.auto[t]:
                bound += self.value(effect, snaps[effect.snap] if effect.snap < len(snaps)
                                    else current)[0]
            for effect in self.cands[t]:
                if used.intersection(effect.tags):
                    continue
                worth = self.value(effect, snaps[effect.snap] if effect.snap < len(snaps)
                                   else current)[0]
                tag = effect.tags[0]
                if worth > best_per_tag.get(tag, 0):
                    best_per_tag[tag] = worth
        goods = max(0, sum(current) - bound - sum(best_per_tag.values()))
        return goods + self._shipping_floor(snaps)

    def _shipping_floor(self, snaps: tuple[tuple[int, ...], ...]) -> int:
        reachable = set()
        for effect in self.comp.shipping:
            base = snaps[effect.snap] if effect.snap < len(snaps) else snaps[-1]
            if sum(base[i] for i in effect.lines) >= effect.rule.threshold:
                reachable.add(effect.store)
        return sum(fee for store, fee in self.comp.fees.items() if store not in reachable)

    def solve(self, s: int, snaps: tuple[tuple[int, ...], ...], used: frozenset[str],
              cutoff: float) -> tuple[float, tuple[Effect, ...] | None]:
        """Best total from stage `s` on: exact when below `cutoff`, else only "≥ cutoff"."""
        if s == N_STAGES:
            return self.total(snaps), ()
        key = (s, tuple(snaps[k] for k in self.needed[s]), used & self.tags_from[s])
        found = self.memo.get(key)
        if found is not None and (found[2] or found[0] >= cutoff):
            return found[0], found[1]
        self.nodes += 1
        children = []
        for order, (chosen, now_used) in enumerate(self.options(s, used)):
            amounts = self.apply(s, snaps, self.auto[s] + list(chosen))
            after = (*snaps, amounts)
            children.append((self.lower_bound(s + 1, after, now_used), order, chosen, now_used, after))
        children.sort(key=lambda c: (c[0], c[1]))
        best: float = INF
        best_choice: tuple[Effect, ...] | None = None
        for bound, _, chosen, now_used, after in children:
            if bound >= min(best, cutoff):
                break
            value, rest = self.solve(s + 1, after, now_used, min(best, cutoff))
            if value < best and rest is not None:
                best, best_choice = value, chosen + rest
        exact = best < cutoff
        self.memo[key] = (best, best_choice, True) if exact else (cutoff, None, False)
        return (best, best_choice) if exact else (cutoff, None)

    def run(self) -> Solution:
        snaps = (self.comp.list_amounts, self.comp.price_amounts)
        total, chosen = self.solve(1, snaps, frozenset(), INF)
        assert chosen is not None  # the empty choice is always valid, so INF is never returned
        return Solution(int(total), chosen, self.nodes)

    def evaluate(self, chosen: Sequence[Effect], record: Record | None = None
                 ) -> tuple[int, tuple[tuple[int, ...], ...]]:
        """Total and snapshots of one given combination (used for the report and brute force)."""
        snaps: tuple[tuple[int, ...], ...] = (self.comp.list_amounts, self.comp.price_amounts)
        picked = set(map(id, chosen))
        for s in range(1, N_STAGES):
            effects = self.auto[s] + [e for e in self.cands[s] if id(e) in picked]
            snaps = (*snaps, self.apply(s, snaps, effects, record))
        return self.total(snaps), snaps


def _subsets(cands: list[Effect], start: int, chosen: tuple[Effect, ...], used: frozenset[str],
             out: list) -> None:
    """Every subset of `cands[start:]` whose tags are pairwise disjoint and not in `used`."""
    out.append((chosen, used))
    for index in range(start, len(cands)):
        effect = cands[index]
        if used.isdisjoint(effect.tags):
            _subsets(cands, index + 1, (*chosen, effect), used.union(effect.tags), out)


def best_combination(comp: Compiled) -> Solution:
    """The provably cheapest valid combination of candidates for a compiled cart."""
    return Search(comp).run()
