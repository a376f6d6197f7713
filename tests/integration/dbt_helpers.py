"""Helpers for the dbt integration tests: raw tables, hand-made dirty deliveries, dbt runs, and an
independent pandas implementation of the cleaning rules and two analytics models to check dbt against.

The deliveries are built here rather than by the loader so every case the staging layer must handle is
present on purpose: dirty values, repeats within and across files, late files, older versions arriving
after newer ones, late clients and assets, and rows breaking each rejection rule.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

from include.contract import contract
from include.settings import REPO_ROOT

DBT_DIR = REPO_ROOT / "dbt" / "lakehouse"
# The schemas the models build into (before a test's suffix): drop them all for a clean build.
LAYERS = ("staging", "intermediate", "marts", "analytics")
UTC = timezone.utc

# The landing contract's columns and enumerations (include/contract.yml).
CONTRACT = {source: list(columns) for source, columns in contract().columns.items()}
ENUMS = {name: set(values) for name, values in contract().enums.items()}
# The raw tables may carry columns the contract does not know; the models must ignore them.
EXTRA_COLUMNS = {"assets": ["legacy_code"]}


# --- Raw tables and deliveries ------------------------------------------------------------------------


@dataclass
class Delivery:
    """One landing file: its rows (column -> delivered string or None) and when the loader committed it."""

    table: str
    name: str
    ingested_at: datetime
    rows: list[dict] = field(default_factory=list)

    @property
    def source_file(self) -> str:
        return f"s3://landing/{self.table}/{self.name}"


def create_raw_tables(cur, catalog: str, schema: str) -> None:
    """(Re)create the three raw tables with the loader's shape: varchar contract columns plus load metadata."""
    cur.execute(f"create schema if not exists {catalog}.{schema}")
    cur.fetchall()
    for table, columns in CONTRACT.items():
        cols = ", ".join(f"{c} varchar" for c in [*columns, *EXTRA_COLUMNS.get(table, [])])
        for sql in (
            f"drop table if exists {catalog}.{schema}.{table}",
            f"create table {catalog}.{schema}.{table} ({cols}, _source_file varchar, _source_etag varchar, "
            "_source_row bigint, _ingested_at timestamp(6) with time zone, _batch_id varchar)",
        ):
            cur.execute(sql)
            cur.fetchall()


def _literal(value) -> str:
    if value is None:
        return "null"
    return "'" + str(value).replace("'", "''") + "'"


def insert_delivery(cur, catalog: str, schema: str, delivery: Delivery, batch_id: str) -> None:
    columns = [*CONTRACT[delivery.table], *EXTRA_COLUMNS.get(delivery.table, [])]
    ingested = delivery.ingested_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    values = []
    for number, row in enumerate(delivery.rows, start=1):
        cells = [_literal(row.get(c)) for c in columns]
        cells += [_literal(delivery.source_file), _literal(f"etag-{delivery.name}"), str(number),
                  f"timestamp '{ingested}'", _literal(batch_id)]
        values.append("(" + ", ".join(cells) + ")")
    target = f"{catalog}.{schema}.{delivery.table}"
    names = ", ".join([*columns, "_source_file", "_source_etag", "_source_row", "_ingested_at", "_batch_id"])
    for start in range(0, len(values), 400):
        cur.execute(f"insert into {target} ({names}) values {', '.join(values[start:start + 400])}")
        cur.fetchall()


# --- dbt --------------------------------------------------------------------------------------------------


def dbt_executable() -> str:
    beside_python = Path(sys.executable).parent / "dbt"
    return str(beside_python if beside_python.exists() else REPO_ROOT / ".venv" / "bin" / "dbt")


def run_dbt(*args: str, dbt_vars: dict | None = None, target_path: Path | None = None,
            timeout: int = 1800) -> subprocess.CompletedProcess:
    """Run the dbt CLI on the project as a user would; the profile reads the connection from the environment."""
    cmd = [dbt_executable(), *args, "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR)]
    if dbt_vars:
        cmd += ["--vars", json.dumps(dbt_vars)]
    env = dict(os.environ)
    if target_path is not None:
        # Other runs in the same checkout must not share target/ and logs/.
        env["DBT_TARGET_PATH"] = str(target_path / "target")
        env["DBT_LOG_PATH"] = str(target_path / "logs")
    return subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout)


# --- The hand-made deliveries -------------------------------------------------------------------------

ASSETS = [
    # asset_id, symbol, name, class, sector, currency, exchange, isin, risk_rating, active, start price
    ("A001", "AAPL", "Apple Inc.", "equity", "Technology", "USD", "XNAS", "US0378331005", "4", True, 185.0),
    ("A002", "MSFT", "Microsoft Corp.", "equity", "Technology", "USD", "XNAS", "US5949181045", "4", True, 370.0),
    ("A003", "UST10", "US Treasury 10Y", "bond", "Government", "USD", "XNYS", "US91282CJJ18", "1", True, 98.5),
    ("A004", "BUND", "German Bund 10Y", "bond", "Government", "EUR", "XETR", "DE0001102614", "1", True, 101.2),
    ("A005", "SPY", "SPDR S&P 500 ETF", "etf", "Broad market", "USD", "ARCX", "US78462F1030", "3", True, 470.0),
    ("A006", "VWCE", "Vanguard FTSE All-World", "etf", "Broad market", "EUR", "XETR", "IE00BK5BQT80", "3",
     True, 105.0),
    ("A007", "VFIAX", "Vanguard 500 Index Admiral", "fund", "Broad market", "USD", "XNAS", "US9229087104", "3",
     True, 430.0),
    ("A008", "BTC", "Bitcoin", "crypto", "Digital assets", "USD", "XCRY", None, "5", True, 42000.0),
    ("A009", "ETH", "Ether", "crypto", "Digital assets", "USD", "XCRY", None, "5", True, 2300.0),
    ("A010", "GOLD", "Gold spot", "commodity", "Metals", "USD", "XCOM", None, "2", True, 2050.0),
    ("A011", "OILX", "Crude oil tracker", "commodity", "Energy", "USD", "XCOM", None, "4", False, 75.0),
    ("A012", "NVDA", "NVIDIA Corp.", "equity", "Technology", "USD", "XNAS", "US67066G1040", "5", True, 490.0),
]
SEGMENTS = ["retail", "high_net_worth", "institutional"]
PROFILES = ["conservative", "moderate", "aggressive"]
COUNTRIES = ["gb", "DE", "us", "FR", "NL"]
BATCH_TIMES = [datetime(2024, 3, 1, 6, tzinfo=UTC), datetime(2024, 3, 2, 6, tzinfo=UTC),
               datetime(2024, 3, 3, 6, tzinfo=UTC)]


def _ts(moment: datetime, style: int) -> str:
    """Write a UTC instant in one of the spellings the contract allows."""
    moment = moment.astimezone(UTC)
    if style == 0:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if style == 1:
        return moment.strftime("%Y-%m-%d %H:%M:%S")  # naive means UTC
    if style == 2:
        return (moment + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S+02:00")
    if style == 3:
        return (moment - timedelta(hours=5, minutes=30)).strftime("%Y-%m-%dT%H:%M:%S.%f-0530")
    if style == 4:
        return moment.strftime("%Y-%m-%d %H:%M:%S.%fZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


class _Dirt:
    """Seeded, reversible mess: padding, case changes and the contract's spellings of 'no value'."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def pad(self, value: str | None) -> str | None:
        if value is None:
            return self.rng.choice([None, "", "NULL", "N/A", " n/a "])
        roll = self.rng.random()
        if roll < 0.15:
            return f"  {value} "
        if roll < 0.2:
            return f"\t{value}"
        return value

    def case(self, value: str) -> str:
        roll = self.rng.random()
        if roll < 0.15:
            return value.upper()
        if roll < 0.25:
            return value.title()
        return value

    def ts(self, moment: datetime) -> str:
        return self.pad(_ts(moment, self.rng.randrange(6)))

    def boolean(self, value: bool) -> str:
        return self.pad(self.rng.choice(["true", "yes", "Y", "1", "TRUE"] if value else ["false", "no", "N", "0"]))


def _asset_row(dirt: _Dirt, spec: tuple, version_at: datetime, **override) -> dict:
    asset_id, symbol, name, asset_class, sector, currency, exchange, isin, risk, active, _ = spec
    row = {
        "asset_id": dirt.pad(asset_id), "symbol": dirt.pad(symbol.lower() if dirt.rng.random() < 0.2 else symbol),
        "asset_name": dirt.pad(name), "asset_class": dirt.pad(dirt.case(asset_class)), "sector": dirt.pad(sector),
        "currency": dirt.pad(currency.lower() if dirt.rng.random() < 0.3 else currency),
        "exchange": dirt.pad(exchange), "isin": dirt.pad(isin), "risk_rating": dirt.pad(risk),
        "is_active": dirt.boolean(active), "updated_at": dirt.ts(version_at), "legacy_code": f"L-{asset_id}",
    }
    row.update(override)
    return row


def _client_row(dirt: _Dirt, n: int, version_at: datetime, **override) -> dict:
    client_id = f"C{n:03d}"
    row = {
        "client_id": dirt.pad(client_id), "first_name": dirt.pad(f"First{n}"), "last_name": dirt.pad(f"Last{n}"),
        "email": dirt.pad(f"Client{n}@Example.com"), "country_code": dirt.pad(COUNTRIES[n % len(COUNTRIES)]),
        "date_of_birth": dirt.pad(f"{1950 + (n * 7) % 50}-{1 + n % 12:02d}-{1 + n % 28:02d}"),
        "segment": dirt.pad(dirt.case(SEGMENTS[n % 3])), "risk_profile": dirt.pad(dirt.case(PROFILES[n % 3])),
        "kyc_status": dirt.pad(dirt.case("verified")),
        "onboarded_at": dirt.ts(datetime(2023, 1 + n % 12, 1 + n % 27, 9, tzinfo=UTC)),
        "updated_at": dirt.ts(version_at),
    }
    row.update(override)
    return row


@dataclass
class _Txn:
    """A transaction of the clean world, before it is written out (possibly several times, dirtily)."""

    transaction_id: str
    client_id: str
    asset_id: str | None
    transaction_type: str
    quantity: Decimal | None
    price: Decimal | None
    amount: Decimal
    fee: Decimal | None
    currency: str
    executed_at: datetime
    channel: str
    status: str

    def row(self, dirt: _Dirt, status: str | None = None, version_at: datetime | None = None, **override) -> dict:
        def num(value):
            return None if value is None else str(value)

        fee = num(self.fee)
        if fee is None:
            fee = dirt.rng.choice([None, "", "NULL", "N/A"])
        row = {
            "transaction_id": dirt.pad(self.transaction_id), "client_id": dirt.pad(self.client_id),
            "asset_id": dirt.pad(self.asset_id),
            "transaction_type": dirt.pad(dirt.case(self.transaction_type)),
            "quantity": dirt.pad(num(self.quantity)) if self.quantity is not None else None,
            "price": dirt.pad(num(self.price)) if self.price is not None else None,
            "amount": dirt.pad(num(self.amount)), "fee": fee,
            "currency": dirt.pad(self.currency.lower() if dirt.rng.random() < 0.3 else self.currency),
            "executed_at": dirt.ts(self.executed_at), "channel": dirt.pad(dirt.case(self.channel)),
            "status": dirt.pad(dirt.case(status or self.status)),
            "updated_at": dirt.ts(version_at or self.executed_at + timedelta(minutes=30)),
        }
        row.update(override)
        return row


def _money(value: float) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"), ROUND_HALF_UP)


def _trade(txn_id: str, client: str, spec: tuple, side: str, quantity: Decimal, price: Decimal,
           at: datetime, status: str = "settled", channel: str = "web") -> _Txn:
    amount = (quantity * price).quantize(Decimal("0.01"), ROUND_HALF_UP)
    fee = _money(float(amount) * 0.001)
    return _Txn(txn_id, client, spec[0], side, quantity, price, amount, fee, spec[5], at, channel, status)


def _world(seed: int = 7):  # noqa: C901 - one linear recipe reads better than many small pieces
    """The clean transactions of January and February 2024, plus the injected anomalies."""
    rng = random.Random(seed)
    prices = {spec[0]: spec[10] for spec in ASSETS}
    history: list[dict[str, float]] = []
    holdings: dict[tuple[str, str], Decimal] = {}
    tradable = [spec for spec in ASSETS if spec[0] != "A011"]
    regular_clients = [f"C{n:03d}" for n in range(1, 17)] + ["C018", "C021"]
    txns: list[_Txn] = []
    counter = 0

    def next_id() -> str:
        nonlocal counter
        counter += 1
        return f"T{counter:05d}"

    for day in range(60):
        start = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=day)
        for spec in ASSETS:
            prices[spec[0]] *= 1 + rng.gauss(0.0005, 0.02)
        history.append(dict(prices))
        for second in sorted(rng.sample(range(8 * 3600, 20 * 3600), rng.randint(14, 24))):
            at = start + timedelta(seconds=second, microseconds=rng.choice([0, 0, 123456]))
            client = rng.choice(regular_clients)
            spec = rng.choice(tradable)
            status = rng.choices(["settled", "pending", "cancelled", "failed"], [85, 7, 5, 3])[0]
            channel = rng.choice(["web", "mobile", "advisor", "api"])
            kind = rng.choices(["buy", "sell", "dividend", "fee"], [55, 30, 8, 7])[0]
            held = [(key[1], qty) for key, qty in holdings.items() if key[0] == client and qty > 0]
            if kind in ("sell", "dividend") and not held:
                kind = "buy"
            if kind == "fee":
                amount = _money(rng.uniform(5, 25))
                txns.append(_Txn(next_id(), client, None, "fee", None, None, amount, None,
                                 rng.choice(["USD", "EUR"]), at, channel, status))
                continue
            if kind == "dividend":
                asset_id, _ = rng.choice(held)
                spec = next(s for s in ASSETS if s[0] == asset_id)
                txns.append(_Txn(next_id(), client, asset_id, "dividend", None, None, _money(rng.uniform(3, 80)),
                                 None, spec[5], at, channel, status))
                continue
            if kind == "sell":
                asset_id, qty_held = rng.choice(held)
                spec = next(s for s in ASSETS if s[0] == asset_id)
            price = _money(prices[spec[0]] * (1 + rng.uniform(-0.01, 0.01)))
            if spec[3] == "crypto":
                quantity = Decimal(str(round(rng.uniform(0.01, 1.5), 4)))
            else:
                quantity = Decimal(rng.randint(1, 40))
            if kind == "sell":
                quantity = min(quantity, qty_held)
            txn = _trade(next_id(), client, spec, kind, quantity, price, at, status, channel)
            if rng.random() < 0.25:
                txn.fee = None  # delivered empty: no commission
            txns.append(txn)
            if status == "settled":
                key = (client, spec[0])
                holdings[key] = holdings.get(key, Decimal(0)) + (quantity if kind == "buy" else -quantity)

    spec = {s[0]: s for s in ASSETS}
    def p(asset_id: str, on_day: int, factor: str = "1") -> Decimal:
        # Injected trades use the market price of their day, so only the intended rule fires.
        return (Decimal(str(history[on_day][asset_id])) * Decimal(factor)).quantize(Decimal("0.01"), ROUND_HALF_UP)

    def day(d: int, h: int, m: int = 0, s: int = 0) -> datetime:
        return datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=d, hours=h, minutes=m, seconds=s)

    injected = {
        # C030 trades only here: six ordinary buys, then one far above them.
        "amount_outlier": [
            *[_trade(f"X1{n:02d}", "C030", spec["A003"], "buy", Decimal(10 + n), p("A003", 10 + n), day(10 + n, 12))
              for n in range(6)],
            _trade("X110", "C030", spec["A003"], "buy", Decimal(900), p("A003", 20), day(20, 12)),
        ],
        # Four trades of A012 on one day, one at 1.6x the others.
        "price_deviation": [
            _trade("X201", "C031", spec["A012"], "buy", Decimal(2), p("A012", 30), day(30, 9)),
            _trade("X202", "C031", spec["A012"], "buy", Decimal(2), p("A012", 30, "1.004"), day(30, 10)),
            _trade("X203", "C031", spec["A012"], "buy", Decimal(2), p("A012", 30, "0.996"), day(30, 11)),
            _trade("X204", "C031", spec["A012"], "buy", Decimal(2), p("A012", 30, "1.6"), day(30, 12)),
        ],
        # Twelve orders in six minutes.
        "velocity_burst": [
            _trade(f"X3{n:02d}", "C032", spec["A005"], "buy", Decimal(1 + n), p("A005", 40), day(40, 15, 0, 30 * n))
            for n in range(12)
        ],
        # The same buy entered twice a minute apart.
        "duplicate_suspect": [
            _trade("X401", "C033", spec["A002"], "buy", Decimal(5), p("A002", 35), day(35, 10)),
            _trade("X402", "C033", spec["A002"], "buy", Decimal(5), p("A002", 35), day(35, 10, 1)),
        ],
        # Sells 8 having bought 5.
        "oversell": [
            _trade("X501", "C034", spec["A010"], "buy", Decimal(5), p("A010", 25), day(25, 10)),
            _trade("X502", "C034", spec["A010"], "sell", Decimal(8), p("A010", 26), day(26, 10)),
        ],
        # A pending-KYC client trading, and anyone trading the inactive asset.
        "kyc_violation": [
            _trade("X601", "C035", spec["A001"], "buy", Decimal(3), p("A001", 45), day(45, 11)),
            _trade("X602", "C001", spec["A011"], "buy", Decimal(10), p("A011", 46), day(46, 11)),
        ],
        # Onboarded on 20 February, trading a thousand units two days later.
        "new_account_large_trade": [
            _trade("X701", "C020", spec["A007"], "buy", Decimal(1000), p("A007", 52), day(52, 10)),
        ],
    }
    return txns, injected


def build_deliveries(seed: int = 7) -> tuple[list[list[Delivery]], dict[str, list[str]]]:
    """Three batches of landing files, and the transaction ids each anomaly rule must flag."""
    dirt = _Dirt(seed)
    txns, injected = _world(seed)
    batches: list[list[Delivery]] = [[], [], []]

    def file(batch: int, table: str, name: str, offset_s: int) -> Delivery:
        at = BATCH_TIMES[batch]
        delivery = Delivery(table, f"{at:%Y-%m-%d}/{name}", at + timedelta(seconds=offset_s))
        batches[batch].append(delivery)
        return delivery

    _asset_files(dirt, file)
    _client_files(dirt, file)
    _transaction_files(dirt, file, txns, injected)

    expected = {rule: [t.transaction_id for t in group if not (rule == "oversell" and t.transaction_type == "buy")]
                for rule, group in injected.items()}
    expected["amount_outlier"] = ["X110"]
    expected["price_deviation"] = ["X204"]
    expected["velocity_burst"] = [f"X3{n:02d}" for n in range(9, 12)]
    return batches, expected


def _asset_files(dirt: _Dirt, file) -> None:
    """Batch 1 has all but A013; A002 gets a new sector in batch 2; A013 arrives late (batch 3)."""
    version = datetime(2023, 12, 1, tzinfo=UTC)
    assets1 = file(0, "assets", "assets_001.csv", 1)
    for spec in ASSETS:
        assets1.rows.append(_asset_row(dirt, spec, version))
    assets1.rows.append(dict(assets1.rows[0]))  # repeated within the file
    assets1.rows += [
        _asset_row(dirt, ("A090", "REIT1", "Some REIT", "reit", None, "USD", None, None, "3", True, 0),
                   version),  # unknown_enum
        _asset_row(dirt, ("A091", "X", "Bad flag", "equity", None, "USD", None, None, "3", True, 0),
                   version, is_active="maybe"),  # unknown_enum
        _asset_row(dirt, ("", "NOID", "No id", "equity", None, "USD", None, None, "3", True, 0),
                   version, asset_id=" "),  # missing_id
        _asset_row(dirt, ("A092", "RR", "Bad rating", "bond", None, "USD", None, None, "high", True, 0),
                   version),  # unparseable_number
    ]
    assets2 = file(1, "assets", "assets_002.csv", 1)
    a002 = list(ASSETS[1])
    a002[4] = "Software"
    assets2.rows.append(_asset_row(dirt, tuple(a002), datetime(2024, 2, 1, tzinfo=UTC)))
    assets2.rows.append(dict(assets1.rows[len(ASSETS) + 1]))  # the unknown_enum record again: one record
    assets3 = file(2, "assets", "assets_003.csv", 1)
    assets3.rows.append(_asset_row(dirt, ("A013", "TSLA", "Tesla Inc.", "Equity", "Autos", "usd", "XNAS",
                                          "US88160R1014", "5", True, 240.0), datetime(2024, 2, 1, tzinfo=UTC)))


def _client_files(dirt: _Dirt, file) -> None:
    """C021 arrives late (batch 2); in batch 3 C005 changes segment and C006 is re-sent with the same
    updated_at but a new risk profile (the later ingestion wins the tie)."""
    version = datetime(2023, 12, 1, tzinfo=UTC)
    overrides = {20: {"onboarded_at": "2024-02-20T09:00:00Z"}, 35: {"kyc_status": " Pending "}}
    clients1 = file(0, "clients", "clients_001.csv", 2)
    for n in [*range(1, 21), *range(30, 36)]:
        clients1.rows.append(_client_row(dirt, n, version, **overrides.get(n, {})))
    clients1.rows += [
        _client_row(dirt, 90, version, segment="vip"),  # unknown_enum
        _client_row(dirt, 91, version, date_of_birth="1985-02-30"),  # bad_timestamp
        _client_row(dirt, 92, version, client_id="NULL"),  # missing_id
        _client_row(dirt, 93, version, onboarded_at="last tuesday"),  # bad_timestamp
        _client_row(dirt, 94, version, updated_at=""),  # bad_timestamp (missing)
    ]
    clients2 = file(1, "clients", "clients_002.csv", 2)
    clients2.rows.append(_client_row(dirt, 21, version))
    clients2.rows.append(dict(clients1.rows[3]))  # C004 again, identical: one record
    clients3 = file(2, "clients", "clients_003.csv", 2)
    clients3.rows.append(_client_row(dirt, 5, datetime(2024, 2, 15, tzinfo=UTC), segment="Institutional"))
    clients3.rows.append(_client_row(dirt, 6, version, risk_profile="AGGRESSIVE"))


def _transaction_files(dirt: _Dirt, file, txns: list[_Txn], injected: dict[str, list[_Txn]]) -> None:
    """January in batch 1, February 1-20 in batch 2, the rest in batch 3, with versions, repeats and a late file."""
    files = [file(b, "transactions", f"transactions_{b + 1:03d}.csv", 3) for b in range(3)]
    late_file = file(2, "transactions", "transactions_late_001.csv", 4)
    pending_then_settled: list[_Txn] = []
    for txn in txns + [t for group in injected.values() for t in group]:
        # C021's client record only arrives in batch 2: its trades are rejected, then valid.
        batch = 0 if txn.client_id == "C021" else _batch_of(txn.executed_at)
        if txn.status == "settled" and batch < 2 and dirt.rng.random() < 0.08:
            # First delivered pending, settled a day later in the next batch.
            files[batch].rows.append(txn.row(dirt, status="pending", version_at=txn.executed_at))
            files[batch + 1].rows.append(txn.row(dirt, version_at=txn.executed_at + timedelta(days=1)))
            pending_then_settled.append(txn)
            continue
        files[batch].rows.append(txn.row(dirt))
        if dirt.rng.random() < 0.03:
            files[batch].rows.append(dict(files[batch].rows[-1]))  # repeated within the file
        elif batch < 2 and dirt.rng.random() < 0.03:
            files[batch + 1].rows.append(dict(files[batch].rows[-1]))  # repeated in a later file

    # Late file: the pending versions of settled transactions again (older: must not win), and a
    # newer version cancelling one settled sell (must win).
    for txn in pending_then_settled[:5]:
        late_file.rows.append(txn.row(dirt, status="pending", version_at=txn.executed_at))
    sell = next(t for t in txns if t.transaction_type == "sell" and t.status == "settled"
                and t.executed_at > datetime(2024, 2, 25, tzinfo=UTC))
    late_file.rows.append(sell.row(dirt, status="Cancelled", version_at=sell.executed_at + timedelta(days=3)))
    # A trade in A013, which only arrives in batch 3.
    files[1].rows.append(_trade("X801", "C010", ("A013", "", "", "equity", "", "USD"), "buy", Decimal(4),
                                Decimal("240.00"), datetime(2024, 2, 10, 10, tzinfo=UTC)).row(dirt))
    _rule_breakers(dirt, files)


def _batch_of(executed_at: datetime) -> int:
    if executed_at < datetime(2024, 2, 1, tzinfo=UTC):
        return 0
    return 1 if executed_at < datetime(2024, 2, 21, tzinfo=UTC) else 2


def _rule_breakers(dirt: _Dirt, files: list[Delivery]) -> None:
    """Rows that cannot be made valid, one or more per rule, and a few that look wrong but are valid."""
    base = _trade("R000", "C001", ASSETS[0], "buy", Decimal(10), Decimal("100.00"),
                  datetime(2024, 1, 15, 10, tzinfo=UTC))
    bad = [
        base.row(dirt, transaction_id=""),                                  # missing_id
        base.row(dirt, transaction_id="N/A"),                               # missing_id
        base.row(dirt, transaction_id="R001", quantity="ten"),              # unparseable_number
        base.row(dirt, transaction_id="R002", amount="1.000,00"),           # unparseable_number
        base.row(dirt, transaction_id="R021", quantity="1e1"),              # unparseable_number: no exponent
        base.row(dirt, transaction_id="R003", executed_at="2024-02-30T10:00:00Z"),  # bad_timestamp
        base.row(dirt, transaction_id="R004", updated_at="yesterday"),      # bad_timestamp
        base.row(dirt, transaction_id="R005", updated_at=None),             # bad_timestamp
        base.row(dirt, transaction_id="R006", transaction_type="swap"),     # unknown_enum
        base.row(dirt, transaction_id="R007", status="reversed"),           # unknown_enum
        base.row(dirt, transaction_id="R008", channel="fax"),               # unknown_enum
        base.row(dirt, transaction_id="R009", quantity="-10", amount="-1000.00"),  # nonpositive_quantity_price
        base.row(dirt, transaction_id="R010", transaction_type="sell", price="0",
                 amount="0"),                                               # nonpositive_quantity_price
        base.row(dirt, transaction_id="R011", amount="1000.02"),            # amount_mismatch
        base.row(dirt, transaction_id="R012", client_id="C999"),            # orphan_reference
        base.row(dirt, transaction_id="R013", asset_id="A999"),             # orphan_reference
        base.row(dirt, transaction_id="R014", fee="-1.00"),                 # valid: the contract has no fee sign rule
        base.row(dirt, transaction_id="R015", transaction_type="dividend", quantity=None, price=None,
                 amount="0"),                                               # nonpositive_amount
        base.row(dirt, transaction_id="R016", client_id=" "),               # orphan_reference (no client)
        base.row(dirt, transaction_id="R017", asset_id=None),               # orphan_reference (a buy needs an asset)
        base.row(dirt, transaction_id="R018", amount="1000.01"),            # valid: exactly within 0.01
        base.row(dirt, transaction_id="R019", transaction_type="fee", asset_id="", quantity="", price="",
                 amount="12.50", fee=None),                                 # valid: a fee needs no asset
        base.row(dirt, transaction_id="R022", currency=" n/a "),           # unknown_currency (a null token)
        base.row(dirt, transaction_id="R023", currency="XYZ"),             # unknown_currency
        base.row(dirt, transaction_id="R024", executed_at="2999-01-15T10:00:00Z"),  # implausible_timestamp
        # out_of_range: quantity x price would overflow Trino's decimals and fail the whole build.
        base.row(dirt, transaction_id="R025", quantity="1000000000000", price="1000000000000",
                 amount="1000000000000000000000000"),
        base.row(dirt, transaction_id="R026", price="100.000000001"),      # out_of_range: past the scale
    ]
    files[0].rows += bad
    files[1].rows.append(dict(next(r for r in bad if r["transaction_id"] == "R012")))  # again: still one record
    # R020: a valid version, then a newer broken one; the valid one stays current.
    files[0].rows.append(base.row(dirt, transaction_id="R020", updated_at="2024-01-15T11:00:00Z"))
    files[1].rows.append(base.row(dirt, transaction_id="R020", status="unknown", updated_at="2024-01-16T11:00:00Z"))


# --- An independent implementation of the cleaning rules, in pandas -------------------------------------

_TS = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*"
                 r"([Zz]|UTC|[+-]\d{2}(?::?\d{2})?)?$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")  # plain decimals: no exponent, no separators
_INTEGER = re.compile(r"^[+-]?\d+$")
_LANDING_DT = re.compile(r"/dt=(\d{4}-\d{2}-\d{2})/")
# dbt_project.yml's defaults for the out_of_range and implausible_timestamp rules.
MAX_INTEGER_DIGITS = 11
EXECUTED_AT_MAX_DAYS_BEFORE_DT = 30
EXECUTED_AT_SKEW = timedelta(hours=14)


def iso_currencies() -> set[str]:
    """The codes of the ISO 4217 seed (data, not logic: the rule itself is reimplemented here)."""
    lines = (DBT_DIR / "seeds" / "iso_4217_currencies.csv").read_text().splitlines()
    return {line.split(",", 1)[0] for line in lines[1:] if line}


def clean_text(value):
    """Trim; a null token of the contract, in any case, is null (the spellings are data, not logic)."""
    return contract().clean_text(value)


def parse_decimal(text):
    if text is None or not _NUMBER.match(text):
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    # Beyond the integer digits or decimal(28,8)'s scale is out_of_range, never rounded.
    if abs(value) >= Decimal(10) ** MAX_INTEGER_DIGITS or value != value.quantize(Decimal("1e-8")):
        return None
    return value


def number_rules(text, value, column: str) -> list[tuple]:
    """unparseable_number when the text is not a plain number, out_of_range when it is but does not fit."""
    pattern = _INTEGER if column == "risk_rating" else _NUMBER
    plain = text is not None and bool(pattern.match(text))
    return [(text is not None and not plain, "unparseable_number", column),
            (plain and value is None, "out_of_range", column)]


def implausible_executed_at(executed_at, raw: dict) -> bool:
    """More than the allowed days before the file's dt, or after that day's end plus the skew. A file without
    a dt= folder is judged by the day it was loaded, and only for the upper bound."""
    if executed_at is None:
        return False
    match = _LANDING_DT.search(raw["_source_file"] or "")
    try:
        landing = date.fromisoformat(match.group(1)) if match else None
    except ValueError:
        landing = None
    day = landing or raw["_ingested_at"].astimezone(UTC).date()
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    if executed_at >= start + timedelta(days=1) + EXECUTED_AT_SKEW:
        return True
    return landing is not None and executed_at < start - timedelta(days=EXECUTED_AT_MAX_DAYS_BEFORE_DT)


def parse_integer(text):
    if text is None or not re.match(r"^[+-]?\d+$", text):
        return None
    value = int(text)
    return value if -(2**31) <= value < 2**31 else None


def parse_boolean(text):
    """One of the contract's boolean spellings, in any case."""
    return contract().parse_boolean(text)


def parse_date(text):
    if not text or not re.match(r"^\d{4}-\d{2}-\d{2}$", text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def parse_timestamp(text):
    match = text and _TS.match(text)
    if not match:
        return None
    day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = datetime.fromisoformat(day).replace(hour=int(hour or 0), minute=int(minute or 0),
                                                     second=int(second or 0), tzinfo=UTC)
    except ValueError:
        return None
    if fraction:
        micros = (Decimal("0." + fraction) * 1_000_000).quantize(Decimal(1), ROUND_HALF_UP)
        moment += timedelta(microseconds=int(micros))
    if zone and zone.upper() not in ("Z", "UTC"):
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
        if offset >= timedelta(hours=18, minutes=1):
            return None
        moment -= sign * offset
    return moment


def _first_broken(checks):
    for broken, rule, column in checks:
        if broken:
            return rule, column
    return None, None


def clean_assets(rows: list[dict]) -> list[dict]:
    out = []
    for raw in rows:
        r = {c: clean_text(raw[c]) for c in CONTRACT["assets"]}
        asset_class = r["asset_class"] and r["asset_class"].lower()
        updated_at = parse_timestamp(r["updated_at"])
        risk = parse_integer(r["risk_rating"])
        active = parse_boolean(r["is_active"])
        rule, column = _first_broken([
            (r["asset_id"] is None, "missing_id", "asset_id"),
            (updated_at is None, "bad_timestamp", "updated_at"),
            *number_rules(r["risk_rating"], risk, "risk_rating"),
            (asset_class not in ENUMS["asset_class"], "unknown_enum", "asset_class"),
            (active is None, "unknown_enum", "is_active"),
        ])
        out.append({**_meta(raw, "assets"), "id": r["asset_id"], "rule": rule, "column": column,
                    "asset_id": r["asset_id"], "asset_class": asset_class, "is_active": active,
                    "updated_at": updated_at,
                    "symbol": r["symbol"] and r["symbol"].upper()})
    return out


def clean_clients(rows: list[dict]) -> list[dict]:
    out = []
    for raw in rows:
        r = {c: clean_text(raw[c]) for c in CONTRACT["clients"]}
        enums = {c: r[c] and r[c].lower() for c in ("segment", "risk_profile", "kyc_status")}
        updated_at = parse_timestamp(r["updated_at"])
        dob = parse_date(r["date_of_birth"])
        onboarded_at = parse_timestamp(r["onboarded_at"])
        rule, column = _first_broken([
            (r["client_id"] is None, "missing_id", "client_id"),
            (onboarded_at is None, "bad_timestamp", "onboarded_at"),
            (updated_at is None, "bad_timestamp", "updated_at"),
            (r["date_of_birth"] is not None and dob is None, "bad_timestamp", "date_of_birth"),
            *[(enums[c] not in ENUMS[c], "unknown_enum", c) for c in ("segment", "risk_profile", "kyc_status")],
        ])
        out.append({**_meta(raw, "clients"), "id": r["client_id"], "rule": rule, "column": column,
                    "client_id": r["client_id"], **enums, "updated_at": updated_at, "onboarded_at": onboarded_at,
                    "country_code": r["country_code"] and r["country_code"].upper()})
    return out


def clean_transactions(rows: list[dict], client_ids: set, asset_ids: set, tolerance=Decimal("0.01")) -> list[dict]:
    out, currencies = [], iso_currencies()
    for raw in rows:
        r = {c: clean_text(raw[c]) for c in CONTRACT["transactions"]}
        kind, status, channel = (r[c] and r[c].lower() for c in ("transaction_type", "status", "channel"))
        q, p, a, f = (parse_decimal(r[c]) for c in ("quantity", "price", "amount", "fee"))
        executed_at, updated_at = parse_timestamp(r["executed_at"]), parse_timestamp(r["updated_at"])
        trade = kind in ("buy", "sell")
        currency = r["currency"] and r["currency"].upper()
        rule, column = _first_broken([
            (r["transaction_id"] is None, "missing_id", "transaction_id"),
            (executed_at is None, "bad_timestamp", "executed_at"),
            (updated_at is None, "bad_timestamp", "updated_at"),
            (implausible_executed_at(executed_at, raw), "implausible_timestamp", "executed_at"),
            *[check for c, v in (("quantity", q), ("price", p), ("amount", a), ("fee", f))
              for check in number_rules(r[c], v, c)],
            *[(v not in ENUMS[c], "unknown_enum", c)
              for c, v in (("transaction_type", kind), ("channel", channel), ("status", status))],
            (currency not in currencies, "unknown_currency", "currency"),
            (trade and not (q is not None and q > 0), "nonpositive_quantity_price", "quantity"),
            (trade and not (p is not None and p > 0), "nonpositive_quantity_price", "price"),
            (trade and not (None not in (a, q, p) and abs(a - q * p) <= tolerance), "amount_mismatch", "amount"),
            (not trade and not (a is not None and a > 0), "nonpositive_amount", "amount"),
            (r["client_id"] not in client_ids, "orphan_reference", "client_id"),
            (r["asset_id"] is None and kind != "fee", "orphan_reference", "asset_id"),
            (r["asset_id"] is not None and r["asset_id"] not in asset_ids, "orphan_reference", "asset_id"),
        ])
        out.append({**_meta(raw, "transactions"), "id": r["transaction_id"], "rule": rule, "column": column,
                    "transaction_id": r["transaction_id"], "client_id": r["client_id"], "asset_id": r["asset_id"],
                    "transaction_type": kind, "status": status, "currency": currency,
                    "quantity": q, "price": p, "amount": a, "fee": f if f is not None else Decimal(0),
                    "executed_at": executed_at, "updated_at": updated_at})
    return out


def _meta(raw: dict, table: str) -> dict:
    return {"record": tuple(raw[c] for c in CONTRACT[table]), "_source_file": raw["_source_file"],
            "_source_row": raw["_source_row"], "_ingested_at": raw["_ingested_at"]}


def _delivery_order(row: dict):
    return (row["_ingested_at"], row["_source_file"], row["_source_row"])


def latest_valid(rows: list[dict]) -> dict[str, dict]:
    """Each id's latest valid version: latest updated_at, then latest ingestion, file and row."""
    best: dict[str, dict] = {}
    for row in rows:
        if row["rule"] is not None:
            continue
        key = (row["updated_at"], *_delivery_order(row))
        current = best.get(row["id"])
        if current is None or key > (current["updated_at"], *_delivery_order(current)):
            best[row["id"]] = row
    return best


def rejected_records(rows: list[dict]) -> dict[tuple, dict]:
    """One entry per distinct rejected record, at its latest delivery."""
    out: dict[tuple, dict] = {}
    for row in rows:
        if row["rule"] is not None:
            current = out.get(row["record"])
            if current is None or _delivery_order(row) > _delivery_order(current):
                out[row["record"]] = row
    return out


# --- The two analytics models, recomputed from the cleaned raw rows ------------------------------------


def reference_tables(raw: dict[str, list[dict]]) -> dict:
    """Clean and deduplicate the raw rows the way the contract says, independently of the dbt models."""
    assets = clean_assets(raw["assets"])
    clients = clean_clients(raw["clients"])
    current_assets = latest_valid(assets)
    current_clients = latest_valid(clients)
    transactions = clean_transactions(raw["transactions"], set(current_clients), set(current_assets))
    return {
        "assets": assets, "clients": clients, "transactions": transactions,
        "current_assets": current_assets, "current_clients": current_clients,
        "current_transactions": latest_valid(transactions),
    }


def _settled(ref: dict) -> list[dict]:
    rows = []
    for txn in ref["current_transactions"].values():
        if txn["status"] == "settled":
            asset = ref["current_assets"].get(txn["asset_id"]) if txn["asset_id"] else None
            rows.append({**txn, "asset_class": asset["asset_class"] if asset else None})
    return rows


def _latest_prices(settled: list[dict]) -> dict[str, Decimal]:
    latest: dict[str, dict] = {}
    for txn in settled:
        if txn["transaction_type"] in ("buy", "sell"):
            current = latest.get(txn["asset_id"])
            if current is None or (txn["executed_at"], txn["transaction_id"]) > (current["executed_at"],
                                                                                 current["transaction_id"]):
                latest[txn["asset_id"]] = txn
    return {asset_id: txn["price"] for asset_id, txn in latest.items()}


def expected_client_investment_summary(ref: dict):
    import pandas as pd

    settled = _settled(ref)
    prices = _latest_prices(settled)
    groups: dict[tuple, list[dict]] = {}
    for txn in settled:
        groups.setdefault((txn["client_id"], txn["currency"]), []).append(txn)
    rows = []
    for client_id, client in ref["current_clients"].items():
        keys = sorted(k for k in groups if k[0] == client_id) or [(client_id, None)]
        for key in keys:
            txns = groups.get(key, [])
            trades = [t for t in txns if t["transaction_type"] in ("buy", "sell")]

            def total(kind, column="amount", txns=txns):
                return sum((t[column] for t in txns if t["transaction_type"] == kind), Decimal(0))

            buy, sell, dividend = total("buy"), total("sell"), total("dividend")
            fees = sum((t["fee"] for t in txns), Decimal(0)) + total("fee")
            positions: dict[str, Decimal] = {}
            classes: dict[str, Decimal] = {}
            for t in trades:
                sign = 1 if t["transaction_type"] == "buy" else -1
                positions[t["asset_id"]] = positions.get(t["asset_id"], Decimal(0)) + sign * t["quantity"]
                classes[t["asset_class"]] = classes.get(t["asset_class"], Decimal(0)) + t["amount"]
            market_value = sum((qty * prices[a] for a, qty in positions.items()), Decimal(0))
            class_total = sum(classes.values(), Decimal(0))
            rows.append({
                "client_id": client_id, "currency": key[1], "segment": client["segment"],
                "risk_profile": client["risk_profile"], "country_code": client["country_code"],
                "trade_count": len(trades), "distinct_assets": len({t["asset_id"] for t in trades}),
                "first_trade_at": min((t["executed_at"] for t in trades), default=None),
                "last_trade_at": max((t["executed_at"] for t in trades), default=None),
                "buy_amount": float(buy), "sell_amount": float(sell), "dividend_amount": float(dividend),
                "fees_paid": float(fees), "net_invested": float(buy - sell), "market_value": float(market_value),
                "total_return": float(market_value + sell + dividend - buy - fees) / float(buy) if buy else None,
                "avg_trade_amount": float(buy + sell) / len(trades) if trades else None,
                "largest_asset_class": min(classes, key=lambda c: (-classes[c], c)) if classes else None,
                "concentration_hhi": sum((float(v) / float(class_total)) ** 2 for v in classes.values())
                if class_total > 0 else None,
            })
    return pd.DataFrame(rows)


def expected_asset_performance_analysis(ref: dict, window: int = 30):
    import pandas as pd

    days: dict[tuple, list[dict]] = {}
    for txn in _settled(ref):
        if txn["transaction_type"] in ("buy", "sell"):
            days.setdefault((txn["asset_id"], txn["executed_at"].date()), []).append(txn)
    rows = []
    for (asset_id, trade_date), trades in days.items():
        volume = sum((t["quantity"] for t in trades), Decimal(0))
        asset = ref["current_assets"][asset_id]
        rows.append({
            "asset_id": asset_id, "trade_date": trade_date, "symbol": asset["symbol"],
            "asset_class": asset["asset_class"], "trade_count": len(trades), "volume": float(volume),
            "traded_amount": float(sum((t["amount"] for t in trades), Decimal(0))),
            "unique_clients": len({t["client_id"] for t in trades}),
            "vwap": float(sum((t["price"] * t["quantity"] for t in trades), Decimal(0))) / float(volume),
        })
    frame = pd.DataFrame(rows).sort_values(["asset_id", "trade_date"]).reset_index(drop=True)
    by_asset = frame.groupby("asset_id")["vwap"]
    frame["daily_return"] = frame["vwap"] / by_asset.shift(1) - 1
    frame["cumulative_return"] = frame["vwap"] / by_asset.transform("first") - 1
    frame["drawdown"] = frame["vwap"] / by_asset.cummax() - 1
    frame["max_drawdown"] = frame.groupby("asset_id")["drawdown"].cummin()
    frame["volatility_30d"] = frame.groupby("asset_id")["daily_return"].transform(
        lambda s: s.rolling(window, min_periods=2).std(ddof=1))
    frame["return_rank_in_class"] = frame.groupby(["asset_class", "trade_date"])["cumulative_return"].rank(
        method="min", ascending=False).astype("int64")
    return frame
