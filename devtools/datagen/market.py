"""Per-asset reference prices: a geometric random walk with one step per day, and the fills traded around it."""

from __future__ import annotations

import numpy as np

PRICE_SCALE = 10_000  # prices and quantities are integers of 1/10,000 so amounts are exact
INTRADAY_NOISE = 0.004
INTRADAY_CLIP = 0.015  # fills stay within 1.5% of the day's reference price, far from the 20% deviation rule


class Market:
    """Daily reference prices for every asset (listed or not) over the run."""

    def __init__(self, rng: np.random.Generator, start_price: np.ndarray, daily_vol: np.ndarray, days: int) -> None:
        steps = rng.normal(0.0, 1.0, size=(days, len(start_price))) * daily_vol - 0.5 * daily_vol**2
        steps[0] = 0.0
        self.reference = start_price * np.exp(np.cumsum(steps, axis=0))

    def fills(self, rng: np.random.Generator, asset: np.ndarray, day: int) -> np.ndarray:
        """Fill prices (scaled integers) for trades in `asset` on `day`."""
        noise = np.clip(rng.normal(0.0, INTRADAY_NOISE, size=len(asset)), -INTRADAY_CLIP, INTRADAY_CLIP)
        return np.maximum(np.rint(self.reference[day, asset] * (1.0 + noise) * PRICE_SCALE), 1).astype(np.int64)

    def quantity_units(self, amount: np.ndarray, price_units: np.ndarray, decimals: np.ndarray) -> np.ndarray:
        """Quantity (scaled integers) buying `amount`, rounded to the asset's lot (whole shares, 0.001 fund units...).

        Where a whole lot would distort the amount by more than ~0.5% the quantity is fractional (4 decimals), as
        brokers with fractional shares do; that keeps amounts close to the intended size.
        """
        step = 10 ** (4 - decimals)
        raw = amount / (price_units / PRICE_SCALE) * PRICE_SCALE
        step = np.where(raw >= 100 * step, step, 1)
        return np.maximum(np.rint(raw / step), 1).astype(np.int64) * step


def amount_cents(qty_units: np.ndarray, price_units: np.ndarray) -> np.ndarray:
    """Gross amount qty x price in cents, rounded half-even; always within 0.005 of the exact product."""
    return np.rint(qty_units.astype(np.float64) * price_units.astype(np.float64) / 1e6).astype(np.int64)
