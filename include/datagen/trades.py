"""Ordinary trading: who trades what, when, how much, at what price, and how holdings move.

All vectorised: one call produces a whole chunk of a day. Natural trades never break a contract rule or an
anomaly rule by construction (sells stay within start-of-day holdings, amounts stay near the client's usual
size, only verified clients and active assets trade), so the injected rows are the ground truth.
"""

from __future__ import annotations

import numpy as np

from include.datagen import reference as ref
from include.datagen.batch import (
    BUY, DIVIDEND, FEE, NATURAL, NO_VALUE, PENDING, SELL, SETTLED, SETTLEMENT, TradeBatch,
)  # fmt: skip
from include.datagen.market import amount_cents
from include.datagen.world import World

TYPE_SHARES = (0.62, 0.30, 0.05, 0.03)  # buy, sell, dividend, fee
STATUS_SHARES = (0.05, 0.92, 0.02, 0.01)  # pending, settled, cancelled, failed
# Channel mix per segment (web, mobile, advisor, api).
CHANNEL_SHARES = np.array([[0.45, 0.45, 0.08, 0.02], [0.35, 0.25, 0.35, 0.05], [0.10, 0.00, 0.30, 0.60]])
COMMISSION_RATE = np.array([0.001, 0.0008, 0.0002])
ZERO_COMMISSION_SHARE = 0.25
CRYPTO = ref.ASSET_CLASSES.index("crypto")
SELL_SHARE_PERCENT = 90  # never sell a whole position, so float running sums cannot dip below zero

# Natural trading stays inside 05:00-22:30 UTC; the burst window after 23:00 is reserved for velocity anomalies.
TRADING_OPEN, TRADING_CLOSE = 5 * 3_600, 22 * 3_600 + 1_800


def _categorical(rng: np.random.Generator, shares, size: int) -> np.ndarray:
    return np.searchsorted(np.cumsum(shares), rng.random(size) * np.sum(shares), side="right")


def trade_times(rng: np.random.Generator, day_epoch: int, size: int) -> np.ndarray:
    """European morning, US afternoon and a thin all-day tail, in epoch seconds."""
    session = _categorical(rng, (0.6, 0.3, 0.1), size)
    lo = np.array([7 * 3_600, 13 * 3_600 + 1_800, TRADING_OPEN])[session]
    hi = np.array([16 * 3_600 + 1_800, 21 * 3_600, TRADING_CLOSE])[session]
    return day_epoch + lo + (rng.random(size) * (hi - lo)).astype(np.int64)


def channels(rng: np.random.Generator, segment: np.ndarray) -> np.ndarray:
    cum = np.cumsum(CHANNEL_SHARES, axis=1)[segment]
    return np.minimum((rng.random(len(segment))[:, None] >= cum).sum(axis=1), 3)


def commissions(rng: np.random.Generator, amount: np.ndarray, segment: np.ndarray) -> np.ndarray:
    fee = np.clip(np.rint(amount * COMMISSION_RATE[segment]), 100, 2_990).astype(np.int64)
    return np.where(rng.random(len(amount)) < ZERO_COMMISSION_SHARE, NO_VALUE, fee)


def _settle_sells(w: World, client, slot, ttype, qty_target) -> np.ndarray:
    """Sell quantities within the start-of-day holding (once per position per day); others become buys."""
    is_sell = ttype == SELL
    step = 10 ** (4 - w.asset_decimals[w.universe[client, slot]])
    cap = (w.available[client, slot] * SELL_SHARE_PERCENT // 100 // step) * step
    qty = np.minimum(qty_target, cap)
    ok = is_sell & (qty >= step) & (qty * 2 >= qty_target)
    pair = client.astype(np.int64) * ref.UNIVERSE_SIZE + slot
    first = np.zeros(len(client), dtype=bool)
    first[np.unique(np.where(ok, pair, -1), return_index=True)[1]] = True
    ok &= first
    ttype[is_sell & ~ok] = BUY
    w.available[client[ok], slot[ok]] -= qty[ok]
    w.positions[client[ok], slot[ok]] -= qty[ok]
    return np.where(ok, qty, qty_target)


def natural_trades(w: World, rng: np.random.Generator, day: int, n: int, seq_start: int) -> TradeBatch:
    """`n` ordinary transactions on `day`; updates holdings for the sells it books."""
    pool = w.trading_clients(day)
    weight = w.activity[pool]
    client = pool[rng.choice(len(pool), size=n, p=weight / weight.sum())]
    slot = rng.integers(ref.UNIVERSE_SIZE, size=n)
    asset = w.universe[client, slot]
    ttype = _categorical(rng, TYPE_SHARES, n)
    price = w.market.fills(rng, asset, day)
    target = w.base_amount[client] * rng.uniform(0.5, 1.5, size=n)
    qty = _settle_sells(w, client, slot, ttype, w.market.quantity_units(target, price, w.asset_decimals[asset]))
    amount = amount_cents(qty, price)

    # Dividends need a holding in something that pays; otherwise the client buys instead.
    is_div = ttype == DIVIDEND
    held = w.available[client, slot]
    payable = is_div & (held > 0) & (w.asset_class[asset] != CRYPTO)
    ttype[is_div & ~payable] = BUY
    dividend = np.rint(held / 1e4 * w.market.reference[day, asset] * rng.uniform(0.002, 0.012, n) * 100)
    amount = np.where(payable, np.maximum(dividend, 1).astype(np.int64), amount)

    is_fee = ttype == FEE
    fee_has_asset = is_fee & (rng.random(n) < 0.3)
    asset = np.where(is_fee & ~fee_has_asset, NO_VALUE, asset)
    slot = np.where(is_fee & ~fee_has_asset, NO_VALUE, slot)
    amount = np.where(is_fee, rng.integers(200, 4_000, size=n), amount)
    currency = np.where(asset >= 0, w.asset_currency[np.maximum(asset, 0)], w.home_currency[client])

    trade = (ttype == BUY) | (ttype == SELL)
    status = np.where(trade, _categorical(rng, STATUS_SHARES, n), SETTLED)
    executed = trade_times(rng, w.cfg.day_epoch(day), n)
    return TradeBatch(
        seq=seq_start + np.arange(n, dtype=np.int64),
        id_day=np.full(n, w.id_day(day), dtype=np.int64),
        client=client,
        asset=asset,
        slot=slot,
        ttype=ttype,
        qty=np.where(trade, qty, 0),
        price=np.where(trade, price, 0),
        amount=amount,
        fee=np.where(trade, commissions(rng, amount, w.segment[client]), NO_VALUE),
        currency=currency,
        channel=channels(rng, w.segment[client]),
        status=status,
        executed=executed,
        updated=executed + rng.integers(1, 300, size=n),
        origin=np.full(n, NATURAL, dtype=np.int64),
    )


def book_buys(w: World, batch: TradeBatch) -> None:
    """Holdings grow by buys that end up settled; cancelled and failed buys never count."""
    counted = ((batch.status == SETTLED) | (batch.status == PENDING)) & (batch.origin != SETTLEMENT)
    buy = (batch.ttype == BUY) & counted & (batch.slot >= 0)
    np.add.at(w.positions, (batch.client[buy], batch.slot[buy]), batch.qty[buy])


def settled_trade_clients(batch: TradeBatch) -> np.ndarray:
    """Clients of buys/sells that end up settled (pending settles overnight); counted once the day is over."""
    trade = (batch.ttype == BUY) | (batch.ttype == SELL)
    done = trade & ((batch.status == SETTLED) | (batch.status == PENDING)) & (batch.origin != SETTLEMENT)
    return batch.client[done]


def settlements(rng: np.random.Generator, pending: TradeBatch, day_epoch: int) -> TradeBatch:
    """Yesterday's pending rows again, now settled, stamped early on the next day: a changed record."""
    out = pending.take(np.arange(len(pending)))
    out.status = np.full(len(out), SETTLED, dtype=np.int64)
    out.updated = day_epoch + rng.integers(4 * 3_600, 5 * 3_600, size=len(out))
    out.origin = np.full(len(out), SETTLEMENT, dtype=np.int64)
    return out

