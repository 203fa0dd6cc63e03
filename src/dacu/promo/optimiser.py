"""The best combination (最优组合): which held coupons and which exclusive promotions to use.

Decisions are the *candidates*: every held coupon and every promotion of an exclusive group. A
combination is valid when no two chosen candidates share a tag (a coupon slot — one store coupon
per store, one platform coupon, one red packet … — or an exclusive group). Promotions outside any
group always apply. The payable total of a combination is computed stage by stage exactly as the
quote reports it, so the optimum found is the optimum of what the customer would pay.

Algorithm: depth-first branch-and-bound over the stages (item → store → platform → payment). At a
stage the candidates split into independent *parts* (no shared tag, no shared line — e.g. each
store's coupons); the search picks one option (a valid subset) per part, then moves to the next
stage with the resulting amounts. Two devices keep it fast, neither loses optimality:

* **Bound.** Every value function is monotone (a lower amount never gives a larger discount), and
  amounts only fall from stage to stage. So from a partial choice with goods amounts A, the final
  total is at least ``max(0, ΣA − R − U) + F``: R is the most each undecided part of this stage can
  take off (its options' discounts valued on their bases, before capping), U sums every later
  promotion's discount valued on A (or on its fixed earlier snapshot) plus, per still-free slot or
  group, its best candidate, and F the fees of stores whose free-shipping threshold is already out
  of reach. A branch whose bound is not below the best total found is cut. Options are tried
  largest first, so the first leaf is the greedy choice, and an option is only applied (its
  discount allocated) when its bound survives.
* **Memoisation.** The rest of the search depends only on the stage, the amount snapshots later
  thresholds read, and the tags already used; equal states reached by different choices are solved
  once (exact results, or "at least X" when a branch was cut).

Worst case it visits every valid combination, Π(|slot|+1) × Π(|group|+1), each costing one stage
evaluation, O(lines × effects); in practice the bound cuts all but a handful (see BENCHMARKS.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dacu.promo.compile import Compiled
from dacu.promo.effects import Effect, Value, picker
from dacu.promo.rules import STAGES

N_STAGES = len(STAGES)
INF = float("inf")
Record = list[tuple[Effect, tuple[int, ...]]]
Subset = tuple[tuple[Effect, ...], frozenset[str]]  # effects chosen together, and their tags
# a stage's independent part: its subsets, the lines it touches, and a picker of their amounts
Component = tuple[list[Subset], tuple[int, ...], Callable[[Sequence[int]], tuple[int, ...]]]
Option = tuple[int, tuple[Effect, ...], frozenset[str]]  # most it takes off, chosen, tags


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
        self.memo: dict[
            tuple[int, tuple[tuple[int, ...], ...], frozenset[str]],
            tuple[float, tuple[Effect, ...] | None, bool],
        ] = {}
        self.components_cache: dict[tuple[int, frozenset[str]], list[Component]] = {}
        self.nodes = 0
        self.has_choice = any(self.cands)
        self.fees_due = [(store, fee) for store, fee in comp.fees.items() if fee]
        self.free_shipping = [
            (e.pick, e.snap, e.rule.threshold, e.store)
            for e in comp.shipping
            if comp.fees.get(e.store or "")
        ]

    def _plan_keys(self) -> None:
        """Which snapshots and tags each stage's remaining search depends on (the memo key)."""
        snaps = {e.snap for e in self.comp.shipping}
        tags: set[str] = set()
        needed: list[tuple[int, ...]] = [()] * (N_STAGES + 1)
        tags_from: list[frozenset[str]] = [frozenset()] * (N_STAGES + 1)
        for s in range(N_STAGES, -1, -1):  # backwards: what stages ≥ s read and use
            for effect in (self.auto[s] + self.cands[s]) if s < N_STAGES else ():
                snaps.add(effect.snap)
                tags.update(effect.tags)
            needed[s] = tuple(sorted({k for k in snaps if k < s} | {s}))
            tags_from[s] = frozenset(tags)
        self.needed, self.tags_from = needed, tags_from

    # -- evaluation ------------------------------------------------------------------------------
    def value(self, effect: Effect, amounts: Sequence[int]) -> Value:
        if not self.has_choice:  # one evaluation only: nothing to reuse
            return effect.fn(effect.pick(amounts))
        key = (id(effect), effect.pick(amounts))
        found = self.cache.get(key)
        if found is None:
            found = self.cache[key] = effect.fn(key[1])
        return found

    def apply(
        self,
        snaps: tuple[tuple[int, ...], ...],
        start: Sequence[int],
        effects: Sequence[Effect],
        record: Record | None = None,
    ) -> tuple[int, ...]:
        """Amounts after `effects`: each valued on its base snapshot, allocated on current amounts."""
        current = list(start)
        value = self.value
        for effect in effects:
            total, explicit = value(effect, snaps[effect.snap])
            if explicit is None:
                if total <= 0:
                    continue
                shares = split(total, effect.pick(current))
            else:
                shares = tuple(
                    [x if x < c else c for x, c in zip(explicit, effect.pick(current), strict=True)]
                )
            for i, share in zip(effect.lines, shares, strict=True):
                current[i] -= share
            if record is not None:
                record.append((effect, shares))
        return tuple(current)

    def shipping(self, snaps: tuple[tuple[int, ...], ...]) -> int:
        if not self.comp.fees:
            return 0
        waived = {
            e.store
            for e in self.comp.shipping
            if sum(snaps[e.snap][i] for i in e.lines) >= e.rule.threshold
        }
        return sum(fee for store, fee in self.comp.fees.items() if store not in waived)

    def total(self, snaps: tuple[tuple[int, ...], ...]) -> int:
        return sum(snaps[N_STAGES]) + self.shipping(snaps)

    # -- search ----------------------------------------------------------------------------------
    def future_discount(
        self, s: int, snaps: tuple[tuple[int, ...], ...], used: frozenset[str]
    ) -> int:
        """U: an upper bound of all discounts of stages > s, valued on amounts ≥ the real ones."""
        current = snaps[s]
        bound = 0
        best_per_tag: dict[str, int] = {}
        for t in range(s + 1, N_STAGES):
            for effect in self.auto[t]:
                bound += self.value(effect, snaps[effect.snap] if effect.snap <= s else current)[0]
            for effect in self.cands[t]:
                if used.intersection(effect.tags):
                    continue
                worth = self.value(effect, snaps[effect.snap] if effect.snap <= s else current)[0]
                tag = effect.tags[0]
                if worth > best_per_tag.get(tag, 0):
                    best_per_tag[tag] = worth
        return bound + sum(best_per_tag.values())

    def shipping_floor(self, snaps: tuple[tuple[int, ...], ...]) -> int:
        """F: fees of stores whose free-shipping threshold is already out of reach."""
        if not self.fees_due:
            return 0
        last = len(snaps) - 1
        reachable = {
            store
            for pick, snap, threshold, store in self.free_shipping
            if sum(pick(snaps[snap if snap < last else last])) >= threshold
        }
        return sum(fee for store, fee in self.fees_due if store not in reachable)

    def solve(
        self, s: int, snaps: tuple[tuple[int, ...], ...], used: frozenset[str], cutoff: float
    ) -> tuple[float, tuple[Effect, ...] | None]:
        """Best total from stage `s` on: exact when below `cutoff`, else only "≥ cutoff"."""
        if s == N_STAGES:
            return self.total(snaps), ()
        key = (s, tuple(snaps[k] for k in self.needed[s]), used & self.tags_from[s])
        found = self.memo.get(key)
        if found is not None and (found[2] or found[0] >= cutoff):
            return found[0], found[1]
        self.nodes += 1
        after_auto = self.apply(snaps, snaps[s], self.auto[s])
        parts = self.parts(s, snaps, after_auto, used)
        if not parts:  # nothing to choose at this stage
            best, best_choice = self.solve(s + 1, (*snaps, after_auto), used, cutoff)
        else:
            later = self.future_discount(s, snaps, used)
            branch = _Branch(self, s, snaps, parts, later, cutoff)
            branch.run(0, after_auto, used, ())
            best, best_choice = branch.best, branch.choice
        exact = best < cutoff and best_choice is not None
        self.memo[key] = (best, best_choice, True) if exact else (cutoff, None, False)
        return (best, best_choice) if exact else (cutoff, None)

    def parts(
        self,
        s: int,
        snaps: tuple[tuple[int, ...], ...],
        after_auto: tuple[int, ...],
        used: frozenset[str],
    ) -> list[list[Option]]:
        """Independent parts of stage `s`'s choice (no shared tag, no shared line); per part its
        options as (most it can take off, chosen, tags), largest first. The most an option can
        take off is the sum of its discounts valued on their bases (before capping at the lines'
        amounts), so options are applied only when the search reaches them."""
        out = []
        for subsets, _lines, pick in self.components(s, used):
            room = sum(pick(after_auto))
            options = []
            for chosen, tags in subsets:
                most = sum(self.value(e, snaps[e.snap])[0] for e in chosen)
                options.append((min(most, room), chosen, tags))
            options.sort(key=lambda o: -o[0])
            out.append(options)
        return out

    def components(self, s: int, used: frozenset[str]) -> list[Component]:
        key = (s, used)
        found = self.components_cache.get(key)
        if found is None:
            free = [e for e in self.cands[s] if used.isdisjoint(e.tags)]
            found = self.components_cache[key] = [
                (_all_subsets(members, used), lines, picker(lines))
                for members, lines in _connected(free)
            ]
        return found

    def run(self) -> Solution:
        self._plan_keys()
        snaps = (self.comp.list_amounts, self.comp.price_amounts)
        total, chosen = self.solve(1, snaps, frozenset(), INF)
        assert chosen is not None  # the empty choice is always valid, so INF is never returned
        return Solution(int(total), chosen, self.nodes)

    def evaluate(
        self, chosen: Sequence[Effect], record: Record | None = None
    ) -> tuple[int, tuple[tuple[int, ...], ...]]:
        """Total and snapshots of one given combination (used for the report and brute force)."""
        snaps: tuple[tuple[int, ...], ...] = (self.comp.list_amounts, self.comp.price_amounts)
        picked = set(map(id, chosen))
        for s in range(1, N_STAGES):
            current = snaps[s]
            if self.auto[s]:
                current = self.apply(snaps, current, self.auto[s], record)
            mine = [e for e in self.cands[s] if id(e) in picked] if picked else None
            if mine:
                current = self.apply(snaps, current, mine, record)
            snaps = (*snaps, current)
        return self.total(snaps), snaps


def split(total: int, amounts: Sequence[int]) -> tuple[int, ...]:
    """`dacu.money.allocate` for a discount over line amounts, capped at their sum (fast path).

    Same rule and same result: shares floored, leftover fen to the largest remainders, ties to the
    earliest line; the total is first capped at the amounts' sum so no line goes below zero.
    """
    weight_sum = sum(amounts)
    if total >= weight_sum:
        return tuple(amounts)
    if len(amounts) == 1:
        return (total,)
    shares = [total * a // weight_sum for a in amounts]
    leftover = total - sum(shares)
    if leftover:
        remainders = [total * a % weight_sum for a in amounts]
        if leftover == 1:  # the common case: the first largest remainder
            shares[remainders.index(max(remainders))] += 1
        else:
            for index in sorted(range(len(amounts)), key=remainders.__getitem__, reverse=True)[
                :leftover
            ]:
                shares[index] += 1
    return tuple(shares)


class _Branch:
    """Choose one option per independent part of a stage, depth first, with the bound."""

    def __init__(
        self,
        search: Search,
        s: int,
        snaps: tuple[tuple[int, ...], ...],
        parts: list[list[Option]],
        later: int,
        cutoff: float,
    ) -> None:
        self.search, self.s, self.snaps, self.parts, self.cutoff = search, s, snaps, parts, cutoff
        self.later = later
        # the most the parts from k on can still take off (their largest option each)
        self.rest = [0] * (len(parts) + 1)
        for k in range(len(parts) - 1, -1, -1):
            self.rest[k] = self.rest[k + 1] + parts[k][0][0]
        self.best: float = INF
        self.choice: tuple[Effect, ...] | None = None

    def run(
        self, k: int, amounts: tuple[int, ...], used: frozenset[str], chosen: tuple[Effect, ...]
    ) -> None:
        search, limit = self.search, min(self.best, self.cutoff)
        if k == len(self.parts):
            value, rest = search.solve(self.s + 1, (*self.snaps, amounts), used, limit)
            if value < self.best and rest is not None:
                self.best, self.choice = value, chosen + rest
            return
        before = sum(amounts)
        floor = search.shipping_floor((*self.snaps, amounts))  # child amounts are lower: valid
        after_parts = self.rest[k + 1] + self.later
        for most, picked, tags in self.parts[k]:
            limit = min(self.best, self.cutoff)
            if max(0, before - most - after_parts) + floor >= limit:
                break  # options come largest first: the rest cannot do better
            child = search.apply(self.snaps, amounts, picked) if picked else amounts
            bound = max(0, sum(child) - after_parts) + search.shipping_floor((*self.snaps, child))
            if bound < limit:
                self.run(k + 1, child, used | tags, chosen + picked)


def _connected(cands: list[Effect]) -> list[tuple[list[Effect], tuple[int, ...]]]:
    """Group candidates that share a tag or a line (union-find); keep the stage order inside."""
    parent = list(range(len(cands)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[object, int] = {}
    for index, effect in enumerate(cands):
        for mark in (*effect.tags, *effect.lines):
            if mark in owner:
                parent[root(index)] = root(owner[mark])
            else:
                owner[mark] = index
    groups: dict[int, list[Effect]] = {}
    for index, effect in enumerate(cands):
        groups.setdefault(root(index), []).append(effect)
    return [
        (members, tuple(sorted({i for e in members for i in e.lines})))
        for members in groups.values()
    ]


def _all_subsets(cands: list[Effect], used: frozenset[str]) -> list[Subset]:
    out: list[Subset] = []
    _subsets(cands, 0, (), used, out)
    return [(chosen, tags - used) for chosen, tags in out]


def _subsets(
    cands: list[Effect],
    start: int,
    chosen: tuple[Effect, ...],
    used: frozenset[str],
    out: list[Subset],
) -> None:
    """Every subset of `cands[start:]` whose tags are pairwise disjoint and not in `used`."""
    out.append((chosen, used))
    for index in range(start, len(cands)):
        effect = cands[index]
        if used.isdisjoint(effect.tags):
            _subsets(cands, index + 1, (*chosen, effect), used.union(effect.tags), out)


def best_combination(comp: Compiled) -> Solution:
    """The provably cheapest valid combination of candidates for a compiled cart."""
    return Search(comp).run()
