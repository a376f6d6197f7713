"""A columnar batch of transactions as numbers (codes, scaled integers, epoch seconds) before formatting."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

TYPES = ("buy", "sell", "dividend", "fee")
BUY, SELL, DIVIDEND, FEE = range(4)
CHANNELS = ("web", "mobile", "advisor", "api")
STATUSES = ("pending", "settled", "cancelled", "failed")
PENDING, SETTLED, CANCELLED, FAILED = range(4)
CURRENCIES = ("USD", "EUR", "GBP", "CHF")

# Where a row came from; never written, only used to pick rows for dirt and to fill the manifest.
NATURAL, SETTLEMENT, ANOMALY = range(3)
NO_VALUE = -1  # asset, slot, fee: empty in the file


@dataclass
class TradeBatch:
    """Parallel numpy arrays, one element per transaction row."""

    seq: np.ndarray  # per-day sequence number; with id_day it forms transaction_id
    id_day: np.ndarray  # yyyymmdd of the day the id was issued
    client: np.ndarray
    asset: np.ndarray  # NO_VALUE for fees without an asset
    slot: np.ndarray  # position in the client's universe, NO_VALUE when the asset is not in it
    ttype: np.ndarray
    qty: np.ndarray  # 1/10,000 units; 0 = empty (dividends, fees)
    price: np.ndarray  # 1/10,000 units; 0 = empty
    amount: np.ndarray  # cents
    fee: np.ndarray  # cents; NO_VALUE = empty (meaning 0)
    currency: np.ndarray
    channel: np.ndarray
    status: np.ndarray
    executed: np.ndarray  # epoch seconds, UTC
    updated: np.ndarray
    origin: np.ndarray

    def __len__(self) -> int:
        return len(self.seq)

    def take(self, idx: np.ndarray) -> TradeBatch:
        return TradeBatch(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})

    @classmethod
    def concat(cls, batches: list[TradeBatch]) -> TradeBatch:
        return cls(**{f.name: np.concatenate([getattr(b, f.name) for b in batches]) for f in fields(cls)})

    @classmethod
    def empty(cls) -> TradeBatch:
        return cls(**{f.name: np.zeros(0, dtype=np.int64) for f in fields(cls)})
