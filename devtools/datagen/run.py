"""One generator run, day by day: reference snapshots, transaction files, late and repeated files, broken files.

`DataGenRun(cfg).deliveries()` yields `Delivery` objects in upload order, one file at a time, so memory stays
bounded by one chunk (`cfg.chunk_rows` transactions) whatever the run size. `run.manifest` is filled as it goes.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from devtools.datagen import anomalies, trades
from devtools.datagen.batch import ANOMALY, NATURAL, PENDING, SETTLEMENT, TradeBatch
from devtools.datagen.config import STREAM_ANOMALIES, STREAM_DIRTY, STREAM_FILES, STREAM_TRADES, GeneratorConfig
from devtools.datagen.delivery import Delivery, landing_key
from devtools.datagen.dirty import KINDS_BY_SOURCE, FileDirt, soil
from devtools.datagen.formatting import reference_table, transaction_id, transactions_table
from devtools.datagen.manifest import ManifestBuilder
from devtools.datagen.rejects import FreshIds
from devtools.datagen.schedule import FileSchedule
from devtools.datagen.variations import add_extra_column, broken_deliveries, vary_header
from devtools.datagen.world import World

LATE_SHARE = 0.02


class SeqCounter:
    """Per-day transaction sequence numbers: natural rows, anomalies and rejects all draw from it."""

    def __init__(self) -> None:
        self.next = 1

    def take(self, n: int) -> np.ndarray:
        out = np.arange(self.next, self.next + n, dtype=np.int64)
        self.next += n
        return out


class DataGenRun:
    """Generates a run lazily; iterate `deliveries()` once, then read `manifest`."""

    def __init__(self, cfg: GeneratorConfig) -> None:
        self.cfg = cfg
        self.world = World(cfg)
        self.schedule = FileSchedule(cfg.days)
        self.fresh = FreshIds()
        self.manifest = ManifestBuilder(cfg)
        self.client_ids = pa.array(self.world.plan.clients["client_id"].astype(str).to_numpy(), pa.string())
        self.asset_ids = pa.array(self.world.plan.assets["asset_id"].astype(str).to_numpy(), pa.string())
        self._late: dict[int, list[Delivery]] = {}
        self._kept: dict[int, Delivery] = {}  # first transactions file of days that get redelivered
        self._first_tables: dict[int, pa.Table] = {}  # for broken-file content
        self._cross_pool: list[dict] = []
        self._pending = TradeBatch.empty()

    def deliveries(self) -> Iterator[Delivery]:
        for day in range(self.cfg.days):
            for delivery in self._day(day):
                self.manifest.record(delivery)
                yield delivery

    # -- a day ---------------------------------------------------------------------------------------------------

    def _day(self, day: int) -> Iterator[Delivery]:
        self.world.open_day(day)
        yield from self._reference(day)
        yield from self._transactions(day)
        yield from self._late.pop(day, [])
        if day in self.schedule.redeliveries():
            yield from self._redeliver(day, self.schedule.redeliveries()[day])
        if self.cfg.broken_files and day == self.schedule.broken_day():
            yield from broken_deliveries(self.cfg.day_date(day), self._first_tables[day],
                                         self.world.plan.deliveries, self.fresh)

    def _format(self, day: int, source: str, part: int) -> str:
        forced = {(0, "assets", 0): "parquet", (0, "clients", 0): "csv.gz", (0, "transactions", 0): "csv"}
        if (day, source, part) in forced:
            return forced[(day, source, part)]
        u = self.cfg.rng(STREAM_FILES, day, ("assets", "clients", "transactions").index(source), part).random()
        shares = self.cfg.formats
        return "csv.gz" if u < shares.csv_gz else "parquet" if u < shares.csv_gz + shares.parquet else "csv"

    def _counts(self, source: str, n: int, minimum: bool) -> dict[str, int]:
        """Rows per dirty kind: the dirty rate split evenly over the kinds a source can carry."""
        if self.cfg.dirty_rate <= 0:
            return {}
        kinds = KINDS_BY_SOURCE[source]
        per_kind = self.cfg.dirty_rate / len(KINDS_BY_SOURCE["transactions"]) * n
        return {k: max(1, round(per_kind)) if minimum else round(per_kind) for k in kinds}

    def _reference(self, day: int) -> Iterator[Delivery]:
        for i, source in enumerate(("assets", "clients")):
            rows = self.world.plan.deliveries.get((source, day))
            if rows is None:
                continue
            table = reference_table(rows, source)
            dirt = FileDirt(counts=self._counts(source, table.num_rows, minimum=day == 0), fresh=self.fresh)
            everything = np.ones(table.num_rows, dtype=bool)
            soiled = soil(table, source, everything, dirt, self.cfg.rng(STREAM_DIRTY, day, 100 + i))
            table, kinds = soiled.table, []
            rng = self.cfg.rng(STREAM_FILES, day, 100 + i)
            if day == 0 and source == "clients":
                table = add_extra_column(table, "Preferred_Language", ("en", "de", "fr", "nl", "it"), rng)
                kinds.append("extra_column")
            if day == 0 and source == "assets":
                table = vary_header(table, rng)
                kinds.append("header_variation")
            fmt = self._format(day, source, 0)
            yield Delivery(
                key=landing_key(source, self.cfg.day_date(day), "full" if day == 0 else "delta", fmt),
                data=self._serialize(table, fmt), source=source, dt=self.cfg.day_date(day),
                delivered_on=self.cfg.day_date(day), fmt=fmt, table=table, row_tags=soiled.tags, file_kinds=kinds,
            )  # fmt: skip

    def _transactions(self, day: int) -> Iterator[Delivery]:
        cfg, w = self.cfg, self.world
        n_parts = -(-cfg.transactions_per_day // cfg.chunk_rows)
        sizes = np.diff(np.linspace(0, cfg.transactions_per_day, n_parts + 1).astype(np.int64))
        settle = trades.settlements(cfg.rng(STREAM_TRADES, day, 10_000), self._pending, cfg.day_epoch(day))
        settle_parts = np.array_split(np.arange(len(settle)), n_parts)
        seq, used_assets = SeqCounter(), set()
        pending, done_clients = [], []
        for part, size in enumerate(sizes):
            hours = (part / n_parts, (part + 1) / n_parts)  # parts follow each other in time
            natural = trades.natural_trades(w, cfg.rng(STREAM_TRADES, day, part), day, int(size),
                                            int(seq.take(size)[0]), hours)  # fmt: skip
            inj = anomalies.inject(w, cfg.rng(STREAM_ANOMALIES, day, part), day, natural, seq.take,
                                   cfg.anomaly_rate, used_assets)  # fmt: skip
            for family, ids in inj.flagged.items():
                self.manifest.add_anomalies(family, [transaction_id(d, s) for d, s in ids])
            batch = TradeBatch.concat([settle.take(settle_parts[part]), natural, *inj.rows])
            trades.book_buys(w, batch)
            done_clients.append(trades.settled_trade_clients(batch))
            pending.append(batch.take(np.flatnonzero((batch.status == PENDING) & (batch.origin != SETTLEMENT))))
            batch = batch.take(np.lexsort((batch.seq, batch.updated)))
            if part == 0 and day in self.schedule.late_sources():
                batch = self._hold_back_late(day, batch)
            yield self._transaction_file(day, part, batch, seq)
        self._pending = TradeBatch.concat(pending) if pending else TradeBatch.empty()
        np.add.at(w.settled_before, np.concatenate(done_clients), 1)

    def _transaction_file(self, day: int, part: int, batch: TradeBatch, seq: SeqCounter) -> Delivery:
        cfg = self.cfg
        table = transactions_table(batch, self.client_ids, self.asset_ids)
        counts = self._counts("transactions", len(batch), minimum=True)
        id_day = self.world.id_day(day)
        dirt = FileDirt(counts=counts, cross_file_rows=self._cross_pool, fresh=self.fresh,
                        new_id=lambda: transaction_id(id_day, int(seq.take(1)[0])),
                        keep_clean=counts.get("duplicate_across_files", 0))  # fmt: skip
        soiled = soil(table, "transactions", batch.origin != ANOMALY, dirt, cfg.rng(STREAM_DIRTY, day, part))
        self._cross_pool = soiled.clean_rows
        table, kinds = soiled.table, []
        rng = cfg.rng(STREAM_FILES, day, 200 + part)
        if part == 0 and day in self.schedule.extra_column_days():
            table = add_extra_column(table, "Source_System", ("OMS-EU", "OMS-US", "ADVISOR-DESK"), rng)
            kinds.append("extra_column")
        if part == 0 and day in self.schedule.header_variation_days():
            table = vary_header(table, rng)
            kinds.append("header_variation")
        if part == 0 and day == self.schedule.broken_day():
            self._first_tables[day] = soiled.table
        fmt = self._format(day, "transactions", part)
        delivery = Delivery(
            key=landing_key("transactions", cfg.day_date(day), f"part-{part + 1:04d}", fmt),
            data=self._serialize(table, fmt), source="transactions", dt=cfg.day_date(day),
            delivered_on=cfg.day_date(day), fmt=fmt, table=table, row_tags=soiled.tags, file_kinds=kinds,
        )  # fmt: skip
        if part == 0 and day in self.schedule.redeliveries().values():
            self._kept[day] = delivery
        return delivery

    def _hold_back_late(self, day: int, batch: TradeBatch) -> TradeBatch:
        """Move ~2% of the day's ordinary, final rows into a file that arrives `late_lag` days later."""
        rng = self.cfg.rng(STREAM_FILES, day, 300)
        candidates = np.flatnonzero((batch.origin == NATURAL) & (batch.status != PENDING))
        k = min(len(candidates), max(5, round(LATE_SHARE * len(batch))))
        late = np.zeros(len(batch), dtype=bool)
        late[rng.choice(candidates, size=k, replace=False)] = True
        table = transactions_table(batch.take(np.flatnonzero(late)), self.client_ids, self.asset_ids)
        fmt = self._format(day, "transactions", 900)
        arrival = day + self.schedule.late_lag
        self._late.setdefault(arrival, []).append(Delivery(
            key=landing_key("transactions", self.cfg.day_date(day), "late-0001", fmt),
            data=self._serialize(table, fmt), source="transactions", dt=self.cfg.day_date(day),
            delivered_on=self.cfg.day_date(arrival), fmt=fmt, table=table,
            row_tags=np.zeros(table.num_rows, dtype=np.int8), file_kinds=["late_file"],
        ))  # fmt: skip
        return batch.take(np.flatnonzero(~late))

    def _redeliver(self, day: int, source_day: int) -> Iterator[Delivery]:
        """The same bytes again under the same key (must load nothing), then under a second name (a new file)."""
        original = self._kept.pop(source_day)
        when = self.cfg.day_date(day)
        yield Delivery(key=original.key, data=original.data, source=original.source, dt=original.dt,
                       delivered_on=when, fmt=original.fmt, table=original.table, event="redelivery",
                       file_kinds=["redelivered_file"])  # fmt: skip
        stem, _, ext = original.key.rpartition("/")[2].partition(".")
        copy_key = f"{original.key.rpartition('/')[0]}/{stem}_resend.{ext}"
        yield Delivery(key=copy_key, data=original.data, source=original.source, dt=original.dt, delivered_on=when,
                       fmt=original.fmt, table=original.table, file_kinds=["copied_file"], copy_of=original.key,
                       row_tags=np.zeros(original.rows, dtype=np.int8))  # fmt: skip

    @staticmethod
    def _serialize(table: pa.Table, fmt: str) -> bytes:
        from devtools.datagen.writer import serialize

        return serialize(table, fmt)
