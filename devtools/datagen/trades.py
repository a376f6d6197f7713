"""Ordinary trading: who trades what, when, how much, at what price, and how holdings move.

All vectorised: one call produces a whole chunk of a day. Natural trades never break a contract rule or an
anomaly rule by construction (sells stay within start-of-day holdings, amounts stay near the client's usual
size, only verified clients and active assets trade), so the injected rows are the ground truth.
"""

from __future__ import annotations

import numpy as np

from devtools.datagen import reference as ref
from devtools.datagen.batch import (
    BUY,
    CANCELLED,
    DIVIDEND,
    FAILED,
    FEE,
    NATURAL,
    NO_VALUE,
    PENDING,
    SELL,
    SETTLED,
    SETTLEMENT,
    TradeBatch,
)
from devtools.datagen.market import amount_cents
from devtools.datagen.world import World

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


def _time_of_day_cdf() -> np.ndarray:
    """CDF over the seconds of a day: European morning, US afternoon and a thin tail, all inside trading hours."""
    density = np.zeros(86_400)
    for weight, lo, hi in ((0.6, 7 * 3_600, 16 * 3_600 + 1_800), (0.3, 13 * 3_600 + 1_800, 21 * 3_600),
                           (0.1, TRADING_OPEN, TRADING_CLOSE)):  # fmt: skip
        density[lo:hi] += weight / (hi - lo)
    return np.concatenate([[0.0], np.cumsum(density)])


TIME_OF_DAY_CDF = _time_of_day_cdf()


def trade_times(rng: np.random.Generator, day_epoch: int, size: int, lo: float = 0.0, hi: float = 1.0) -> np.ndarray:
    """Epoch seconds of `size` trades whose time-of-day quantiles lie in [lo, hi).

    Chunks of a large day take consecutive quantile slices, so part files are in time order and a client's
    trades are numbered in time order across parts (see `_amount_factors`).
    """
    u = lo + rng.random(size) * (hi - lo)
    seconds = np.interp(u, TIME_OF_DAY_CDF, np.arange(86_401))
    return day_epoch + np.minimum(seconds.astype(np.int64), TRADING_CLOSE - 1)


def channels(rng: np.random.Generator, segment: np.ndarray) -> np.ndarray:
    cum = np.cumsum(CHANNEL_SHARES, axis=1)[segment]
    return np.minimum((rng.random(len(segment))[:, None] >= cum).sum(axis=1), 3)


def commissions(rng: np.random.Generator, amount: np.ndarray, segment: np.ndarray) -> np.ndarray:
    fee = np.clip(np.rint(amount * COMMISSION_RATE[segment]), 100, 2_990).astype(np.int64)
    return np.where(rng.random(len(amount)) < ZERO_COMMISSION_SHARE, NO_VALUE, fee)


def _pick_slots(w: World, rng: np.random.Generator, client: np.ndarray, ttype: np.ndarray) -> np.ndarray:
    """Buys and fees pick any favourite asset; sells and dividends pick a held one, larger positions first."""
    slot = rng.integers(ref.UNIVERSE_SIZE, size=len(client))
    wants = np.flatnonzero((ttype == SELL) | (ttype == DIVIDEND))
    holdings = w.available[client[wants]]
    preferred = np.argmax(holdings * rng.uniform(0.5, 1.0, size=holdings.shape), axis=1)
    slot[wants] = np.where(holdings.max(axis=1) > 0, preferred, slot[wants])
    return slot


def _settle_sells(w: World, client, slot, ttype, qty) -> None:
    """Sells of the full intended quantity within 90% of the start-of-day holding, once per position per day.

    Anything else becomes a buy of the same size, so sells never overdraw a position and never shrink in size.
    """
    is_sell = ttype == SELL
    cap = w.available[client, slot] * SELL_SHARE_PERCENT // 100
    ok = is_sell & (qty <= cap)
    pair = client.astype(np.int64) * ref.UNIVERSE_SIZE + slot
    first = np.zeros(len(client), dtype=bool)
    first[np.unique(np.where(ok, pair, -1), return_index=True)[1]] = True
    ok &= first
    ttype[is_sell & ~ok] = BUY
    w.available[client[ok], slot[ok]] -= qty[ok]
    w.positions[client[ok], slot[ok]] -= qty[ok]


GOLDEN = (np.sqrt(5.0) - 1.0) / 2.0


def _amount_factors(w: World, rng: np.random.Generator, client, executed, counted) -> np.ndarray:
    """Trade size as a multiple (0.5-1.5) of the client's usual amount.

    Counted trades (buys/sells that will settle) walk a golden-ratio (Weyl) sequence per client in time order,
    so any five or more earlier trades are spread over the whole range: an ordinary trade's z-score against
    its history stays near 3 at most, and only injected outliers exceed 4. Other trades draw uniformly.
    """
    factor = rng.uniform(0.5, 1.5, size=len(client))
    idx = np.flatnonzero(counted)
    order = idx[np.lexsort((executed[idx], client[idx]))]
    c = client[order]
    starts = np.r_[0, np.flatnonzero(c[1:] != c[:-1]) + 1]
    rank = np.arange(len(c)) - np.repeat(starts, np.diff(np.r_[starts, len(c)]))
    k = w.amount_index[c] + rank
    factor[order] = 0.5 + np.mod(k * GOLDEN + w.amount_phase[c], 1.0)
    np.add.at(w.amount_index, c, 1)
    return factor


def natural_trades(w: World, rng: np.random.Generator, day: int, n: int, seq_start: int,
                   time_slice: tuple[float, float] = (0.0, 1.0)) -> TradeBatch:  # fmt: skip
    """`n` ordinary transactions on `day` within a slice of its trading hours; books the sells it makes."""
    pool = w.trading_clients(day)
    weight = w.activity[pool]
    client = pool[rng.choice(len(pool), size=n, p=weight / weight.sum())]
    ttype = _categorical(rng, TYPE_SHARES, n)
    slot = _pick_slots(w, rng, client, ttype)
    asset = w.universe[client, slot]
    # Dividends need a holding in something that pays; otherwise the client buys instead.
    held = w.available[client, slot]
    payable = (held > 0) & (w.asset_class[asset] != CRYPTO)
    ttype[(ttype == DIVIDEND) & ~payable] = BUY
    trade = (ttype == BUY) | (ttype == SELL)
    status = np.where(trade, _categorical(rng, STATUS_SHARES, n), SETTLED)
    executed = trade_times(rng, w.cfg.day_epoch(day), n, *time_slice)

    price = w.market.fills(rng, asset, day)
    counted = trade & (status != CANCELLED) & (status != FAILED)
    target = w.base_amount[client] * _amount_factors(w, rng, client, executed, counted)
    qty = w.market.quantity_units(target, price, w.asset_decimals[asset])
    _settle_sells(w, client, slot, ttype, qty)
    amount = amount_cents(qty, price)
    dividend = np.rint(held / 1e4 * w.market.reference[day, asset] * rng.uniform(0.002, 0.012, n) * 100)
    amount = np.where(ttype == DIVIDEND, np.maximum(dividend, 1).astype(np.int64), amount)

    is_fee = ttype == FEE
    no_asset = is_fee & (rng.random(n) >= 0.3)  # most fees are account-level
    asset = np.where(no_asset, NO_VALUE, asset)
    slot = np.where(no_asset, NO_VALUE, slot)
    amount = np.where(is_fee, rng.integers(200, 4_000, size=n), amount)
    currency = np.where(asset >= 0, w.asset_currency[np.maximum(asset, 0)], w.home_currency[client])
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

