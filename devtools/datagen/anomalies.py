"""Injected anomalies: valid trades (they survive cleaning) that each trip exactly one detection rule.

Every family picks a fresh client (one anomaly per client per run) and sizes the trade from that client's usual
amount, so an injected row does not trip a second rule by accident. Natural trades are generated so they never
trip rules 2-7 (see `trades`), which makes the ids returned here the complete expected set for those rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from devtools.datagen import reference as ref
from devtools.datagen.batch import ANOMALY, BUY, SELL, SETTLED, TradeBatch
from devtools.datagen.market import PRICE_SCALE, amount_cents
from devtools.datagen.trades import GOLDEN, channels, commissions, trade_times
from devtools.datagen.world import World

FAMILIES = (
    "amount_outlier", "price_deviation", "velocity_burst", "duplicate_suspect",
    "oversell", "kyc_violation", "new_account_large_trade",
)  # fmt: skip
OUTLIER_MULTIPLE = 40.0  # x the client's usual size: z-scores far above 4 whatever the client's history
PRICE_SHOCKS = (1.35, 0.65)
BURST_SIZE, BURST_FLAGGED_FROM = 12, 10
BURST_START = 23 * 3_600  # after natural trading closes (22:30), so no ordinary trade joins a burst
NEW_ACCOUNT_MULTIPLE = 30.0  # x the segment's typical size; the rule fires above 10x the segment median
MIN_EARLIER_SETTLED = 6  # the outlier rule needs 5 earlier settled trades; one spare


@dataclass
class Injection:
    """The rows one chunk receives and, per family, the (id_day, seq) of the rows the rule must flag."""

    rows: list[TradeBatch] = field(default_factory=list)
    flagged: dict[str, list[tuple[int, int]]] = field(default_factory=lambda: {f: [] for f in FAMILIES})


class AnomalyInjector:
    """Adds anomaly rows to one chunk of one day."""

    def __init__(self, w: World, rng: np.random.Generator, day: int, natural: TradeBatch, next_seq) -> None:
        self.w, self.rng, self.day, self.natural, self.next_seq = w, rng, day, natural, next_seq
        self.day_epoch = w.cfg.day_epoch(day)
        order = np.lexsort((natural.executed, natural.client))
        self.by_client = natural.client[order]
        self.times_by_client = natural.executed[order]
        self.out = Injection()

    # -- helpers -------------------------------------------------------------------------------------------------

    def _pick(self, mask: np.ndarray, k: int) -> np.ndarray:
        """Up to `k` clients from `mask` that carry no anomaly yet; marks them as used."""
        pool = np.flatnonzero(mask)
        picked: list[int] = []
        for c in self.rng.permutation(pool)[: k * 4 + 10]:
            if len(picked) == k:
                break
            if int(c) not in self.w.anomaly_clients:
                picked.append(int(c))
                self.w.anomaly_clients.add(int(c))
        return np.array(picked, dtype=np.int64)

    def _old_traders(self) -> np.ndarray:
        return self.w.plan.client_tradeable & self.w.plan.client_old

    def _add(self, family: str, client, asset, ttype, qty, price, executed, flag=None, channel=None) -> None:
        w, n = self.w, len(client)
        client, asset = np.asarray(client, dtype=np.int64), np.asarray(asset, dtype=np.int64)
        in_universe = w.universe[client] == asset[:, None]
        slot = np.where(in_universe.any(axis=1), in_universe.argmax(axis=1), -1)
        for c, a in zip(client[slot < 0], asset[slot < 0], strict=True):
            w.injected_pairs.add((int(c), int(a)))
        amount = amount_cents(qty, price)
        seq = self.next_seq(n)
        executed = np.asarray(executed, dtype=np.int64)
        self.out.rows.append(
            TradeBatch(
                seq=seq, id_day=np.full(n, w.id_day(self.day)), client=client, asset=asset, slot=slot,
                ttype=np.asarray(ttype, dtype=np.int64), qty=qty, price=price, amount=amount,
                fee=commissions(self.rng, amount, w.segment[client]), currency=w.asset_currency[asset],
                channel=channels(self.rng, w.segment[client]) if channel is None else channel,
                status=np.full(n, SETTLED), executed=executed,
                updated=executed + self.rng.integers(1, 300, size=n), origin=np.full(n, ANOMALY),
            )
        )  # fmt: skip
        flagged = np.ones(n, dtype=bool) if flag is None else flag
        self.out.flagged[family].extend((w.id_day(self.day), int(s)) for s in seq[flagged])

    def _usual_qty(self, client, asset, price, multiple=1.0, factor=None) -> np.ndarray:
        if factor is None:
            factor = self.rng.uniform(0.5, 1.5, size=len(client))
        amount = self.w.base_amount[client] * multiple * factor
        return self.w.market.quantity_units(amount, price, self.w.asset_decimals[asset])

    def _universe_asset(self, client: np.ndarray) -> np.ndarray:
        return self.w.universe[client, self.rng.integers(ref.UNIVERSE_SIZE, size=len(client))]

    def _last_trade_today(self, client: np.ndarray) -> np.ndarray:
        end = np.searchsorted(self.by_client, client, side="right")
        has = end > np.searchsorted(self.by_client, client, side="left")
        last = self.times_by_client[np.maximum(end - 1, 0)]
        return np.where(has, last, self.day_epoch + 5 * 3_600)

    # -- families ------------------------------------------------------------------------------------------------

    def amount_outlier(self, k: int) -> None:
        """A buy ~40x the client's usual size, after at least six earlier settled trades."""
        nat = self.natural
        settled_today = ((nat.ttype == BUY) | (nat.ttype == SELL)) & (nat.status == SETTLED)
        today = np.bincount(nat.client[settled_today], minlength=self.w.n_clients)
        client = self._pick(self._old_traders() & (self.w.settled_before + today >= MIN_EARLIER_SETTLED), k)
        asset = self._universe_asset(client)
        price = self.w.market.fills(self.rng, asset, self.day)
        limit = self.day_epoch + BURST_START - 1
        executed = np.minimum(self._last_trade_today(client) + self.rng.integers(60, 1_800, len(client)), limit)
        qty = self._usual_qty(client, asset, price, OUTLIER_MULTIPLE)
        self._add("amount_outlier", client, asset, np.full(len(client), BUY), qty, price, executed)

    def price_deviation(self, k: int, used_assets: set[int]) -> None:
        """A buy 35% above or below the market in an asset with at least five ordinary settled trades today."""
        nat = self.natural
        settled = ((nat.ttype == BUY) | (nat.ttype == SELL)) & (nat.status == SETTLED)
        counts = np.bincount(nat.asset[settled], minlength=self.w.n_assets)
        candidates = [a for a in np.flatnonzero(counts >= 5) if int(a) not in used_assets]
        assets = self.rng.permutation(np.array(candidates, dtype=np.int64))[:k]
        client = self._pick(self._old_traders(), len(assets))
        assets = assets[: len(client)]
        used_assets.update(int(a) for a in assets)
        shock = self.rng.choice(PRICE_SHOCKS, size=len(client))
        price = np.rint(self.w.market.reference[self.day, assets] * shock * PRICE_SCALE).astype(np.int64)
        qty = self._usual_qty(client, assets, price)
        executed = trade_times(self.rng, self.day_epoch, len(client))
        self._add("price_deviation", client, assets, np.full(len(client), BUY), qty, price, executed)

    def velocity_burst(self, k: int) -> None:
        """Twelve buys within seven minutes after hours; the rule flags the 10th, 11th and 12th."""
        for c in self._pick(self._old_traders(), k):
            client = np.full(BURST_SIZE, c)
            asset = self._universe_asset(client)
            price = self.w.market.fills(self.rng, asset, self.day)
            # Sizes spread evenly (as in trades._amount_factors) so no burst row looks like an amount outlier.
            spread = 0.5 + np.mod(np.arange(BURST_SIZE) * GOLDEN + self.rng.random(), 1.0)
            qty = self._usual_qty(client, asset, price, factor=spread) + np.arange(BURST_SIZE)  # never equal orders
            start = self.day_epoch + BURST_START + int(self.rng.integers(0, 2_400))
            executed = start + np.cumsum(self.rng.integers(20, 35, size=BURST_SIZE))
            flag = np.arange(BURST_SIZE) >= BURST_FLAGGED_FROM - 1
            api = np.full(BURST_SIZE, 3)
            self._add("velocity_burst", client, asset, np.full(BURST_SIZE, BUY), qty, price, executed, flag, api)

    def duplicate_suspect(self, k: int) -> None:
        """The same order twice under two ids, 20-100 seconds apart; both rows are flagged."""
        client = self._pick(self._old_traders(), k)
        asset = self._universe_asset(client)
        price = self.w.market.fills(self.rng, asset, self.day)
        qty = self._usual_qty(client, asset, price)
        first = trade_times(self.rng, self.day_epoch, len(client))
        second = first + self.rng.integers(20, 100, size=len(client))
        both = np.concatenate
        self._add("duplicate_suspect", both([client, client]), both([asset, asset]), np.full(2 * len(client), BUY),
                  both([qty, qty]), both([price, price]), both([first, second]))  # fmt: skip

    def oversell(self, k: int) -> None:
        """A sell of an asset the client has never bought (outside the client's universe)."""
        client = self._pick(self._old_traders(), k)
        tradeable = np.flatnonzero(self.w.plan.asset_tradeable)
        asset = np.empty(len(client), dtype=np.int64)
        for i, c in enumerate(client):
            while True:
                a = int(self.rng.choice(tradeable))
                if a not in self.w.universe[c] and (int(c), a) not in self.w.injected_pairs:
                    asset[i] = a
                    break
        price = self.w.market.fills(self.rng, asset, self.day)
        qty = self._usual_qty(client, asset, price)
        executed = trade_times(self.rng, self.day_epoch, len(client))
        self._add("oversell", client, asset, np.full(len(client), SELL), qty, price, executed)

    def kyc_violation(self, k: int) -> None:
        """Half: a client never verified during the run buys; half: a verified client buys an inactive asset."""
        plan = self.w.plan
        unverified = self._pick(plan.client_stable_nonverified, (k + 1) // 2)
        verified = self._pick(self._old_traders(), k - len(unverified))
        inactive = np.flatnonzero(plan.asset_stable_inactive)
        if len(inactive) == 0:
            verified = verified[:0]
        client = np.concatenate([unverified, verified])
        asset = np.concatenate([
            self.rng.choice(np.flatnonzero(plan.asset_tradeable), size=len(unverified)),
            self.rng.choice(inactive, size=len(verified)) if len(verified) else np.zeros(0, dtype=np.int64),
        ])  # fmt: skip
        price = self.w.market.fills(self.rng, asset, self.day)
        qty = self._usual_qty(client, asset, price)
        executed = trade_times(self.rng, self.day_epoch, len(client))
        self._add("kyc_violation", client, asset, np.full(len(client), BUY), qty, price, executed)

    def new_account_large_trade(self, k: int) -> None:
        """A buy 30x the segment's typical size by a client onboarded within the last six days."""
        w, nat = self.w, self.natural
        today = np.bincount(nat.client[(nat.ttype == BUY) | (nat.ttype == SELL)], minlength=w.n_clients)
        first = w.plan.client_first_day
        recent = w.onboarded >= self.day_epoch - 5 * 86_400
        mask = w.plan.client_tradeable & (first >= 0) & (first <= self.day) & recent
        client = self._pick(mask & (w.settled_before + today < 4), k)
        asset = self._universe_asset(client)
        price = self.w.market.fills(self.rng, asset, self.day)
        target = ref.SEGMENT_MEDIAN_AMOUNT[w.segment[client]] * NEW_ACCOUNT_MULTIPLE
        qty = w.market.quantity_units(target, price, w.asset_decimals[asset])
        executed = self.day_epoch + self.rng.integers(12 * 3_600, 20 * 3_600, size=len(client))
        self._add("new_account_large_trade", client, asset, np.full(len(client), BUY), qty, price, executed)


def inject(w: World, rng, day: int, natural: TradeBatch, next_seq, rate: float, used_assets: set[int]) -> Injection:
    """All seven families into one chunk; at least one event each when `rate` > 0 (and candidates exist)."""
    inj = AnomalyInjector(w, rng, day, natural, next_seq)
    if rate <= 0:
        return inj.out
    per_family = rate / len(FAMILIES) * len(natural)

    def events(flagged_per_event: int) -> int:
        return max(1, round(per_family / flagged_per_event))

    inj.amount_outlier(events(1))
    inj.price_deviation(events(1), used_assets)
    inj.velocity_burst(events(BURST_SIZE - BURST_FLAGGED_FROM + 1))
    inj.duplicate_suspect(events(2))
    inj.oversell(events(1))
    inj.kyc_violation(events(1))
    inj.new_account_large_trade(events(1))
    return inj.out
