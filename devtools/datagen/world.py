"""The state a run carries from day to day: reference arrays, prices, universes, holdings and trade counts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from devtools.datagen import reference as ref
from devtools.datagen.batch import CURRENCIES
from devtools.datagen.changes import ReferencePlan, plan_reference
from devtools.datagen.config import STREAM_MARKET, STREAM_REFERENCE, GeneratorConfig
from devtools.datagen.market import Market


def _codes(values, vocabulary: tuple[str, ...]) -> np.ndarray:
    """Positions of `values` in `vocabulary`, vectorised (the client table can hold millions of rows)."""
    return pd.Categorical(values.astype(str), categories=list(vocabulary)).codes.astype(np.int64)


class World:
    """Everything trades and anomalies are drawn from; mutated only by `open_day` and `book`."""

    def __init__(self, cfg: GeneratorConfig) -> None:
        self.cfg = cfg
        self.plan: ReferencePlan = plan_reference(cfg)
        assets, clients = self.plan.assets, self.plan.clients
        self.n_assets, self.n_clients = len(assets), len(clients)

        self.asset_class = assets["_class"].to_numpy()
        self.asset_decimals = assets["_qty_decimals"].to_numpy().astype(np.int64)
        self.asset_currency = _codes(assets["currency"], CURRENCIES)
        self.market = Market(cfg.rng(STREAM_MARKET), assets["_start_price"].to_numpy(),
                             assets["_daily_vol"].to_numpy(), cfg.days)  # fmt: skip

        self.segment = clients["_segment"].to_numpy()
        self.base_amount = clients["_base_amount"].to_numpy()
        self.home_currency = _codes(clients["_home_currency"], CURRENCIES)
        self.onboarded = clients["onboarded_at"].to_numpy().astype(np.int64)
        self.activity = clients["_activity"].to_numpy()

        tradeable_assets = np.flatnonzero(self.plan.asset_tradeable)
        # The universe stream is separate from reference building so adding a column never reshuffles holdings.
        self.universe = ref.build_universes(cfg.rng(STREAM_REFERENCE, 1), self.n_clients, tradeable_assets,
                                            assets["_popularity"].to_numpy())  # fmt: skip
        self.positions = np.zeros((self.n_clients, ref.UNIVERSE_SIZE), dtype=np.int64)
        self.available = self.positions  # replaced by a copy at the start of each day
        # Buy/sell rows per client that end up settled, executed before the current day.
        self.settled_before = np.zeros(self.n_clients, dtype=np.int64)
        # Position of each client in its own trade-size sequence (see trades._amount_factors).
        self.amount_index = np.zeros(self.n_clients, dtype=np.int64)
        self.amount_phase = cfg.rng(STREAM_REFERENCE, 2).random(self.n_clients)
        self.anomaly_clients: set[int] = set()  # each client carries at most one injected anomaly per run
        self.injected_pairs: set[tuple[int, int]] = set()  # (client, asset) outside universes touched by anomalies
        self.day = 0

    def open_day(self, day: int) -> None:
        """Freeze start-of-day holdings: natural sells never exceed them, whatever the intraday order."""
        self.day = day
        self.available = self.positions.copy()

    def trading_clients(self, day: int) -> np.ndarray:
        """Clients verified for the whole run and already delivered by `day`."""
        first = self.plan.client_first_day
        return np.flatnonzero(self.plan.client_tradeable & (first >= 0) & (first <= day))

    def id_day(self, day: int) -> int:
        d = self.cfg.day_date(day)
        return d.year * 10_000 + d.month * 100 + d.day
