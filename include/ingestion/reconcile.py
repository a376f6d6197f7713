"""Per-day reconciliation: every object delivered for a landing day is loaded, quarantined or reported.

Delivered objects come from a listing of the day's prefixes (`<source>/dt=YYYY-MM-DD/`), their fates from the
ingest ledger, matched on key and ETag. An object the ledger does not know yet is pending (not loaded yet, or
delivered after the last load); a balanced day has none.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date

from include.ingestion.contract import COLUMNS
from include.ingestion.ledger import LEDGER_TABLE, LOADED, PRECEDENCE
from include.ingestion.listing import list_landing
from include.settings import Settings, get_settings, s3_client


@dataclass
class DayReconciliation:
    day: str
    delivered: int = 0
    loaded: int = 0
    quarantined: int = 0
    reported: int = 0
    rows_loaded: int = 0
    pending: list[str] = field(default_factory=list)
    # Recorded for this day but outside the sources' prefixes (e.g. an unknown source): shown, not counted.
    outside_prefixes: int = 0

    @property
    def balanced(self) -> bool:
        return not self.pending and self.delivered == self.loaded + self.quarantined + self.reported

    def line(self) -> str:
        mark = "balanced" if self.balanced else f"NOT balanced, {len(self.pending)} pending"
        extra = f"; {self.outside_prefixes} recorded outside the source prefixes" if self.outside_prefixes else ""
        return (f"{self.day}: delivered {self.delivered} = loaded {self.loaded} + quarantined {self.quarantined} "
                f"+ reported {self.reported} ({self.rows_loaded} rows) — {mark}{extra}")

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "balanced": self.balanced}, indent=2)


def ledger_rows(settings: Settings, day: str, cat=None) -> dict[tuple[str, str], tuple[str, int]]:
    """(key, etag) -> (status, rows loaded) of the ledger's rows for `day`; no ledger yet is an empty ledger."""
    from pyiceberg.exceptions import NoSuchTableError
    from pyiceberg.expressions import EqualTo

    from include.ingestion.raw_tables import catalog

    cat = cat or catalog(settings)
    try:
        table = cat.load_table((settings.raw_schema, LEDGER_TABLE))
    except NoSuchTableError:
        return {}
    columns = ("landing_key", "etag", "status", "rows_loaded")
    data = table.scan(row_filter=EqualTo("landing_day", day), selected_fields=columns).to_arrow()
    fates: dict[tuple[str, str], tuple[str, int]] = {}
    for key, etag, status, rows in zip(*(data.column(c).to_pylist() for c in columns), strict=True):
        seen = fates.get((key, etag))
        if seen is None or PRECEDENCE[status] > PRECEDENCE[seen[0]]:
            fates[(key, etag)] = (status, rows or 0)
    return fates


def reconcile_day(day: str, settings: Settings | None = None, client=None, cat=None) -> DayReconciliation:
    day = date.fromisoformat(day).isoformat()
    settings = settings or get_settings()
    client = client or s3_client(settings)
    fates = ledger_rows(settings, day, cat)
    result = DayReconciliation(day)
    listed = set()
    for source in COLUMNS:
        for obj in list_landing(client, settings.landing_bucket, f"{source}/dt={day}/"):
            key, etag = obj["Key"], obj["ETag"].strip('"')
            listed.add(key)
            result.delivered += 1
            status, rows = fates.get((key, etag), (None, 0))
            if status is None:
                result.pending.append(key)
                continue
            setattr(result, status, getattr(result, status) + 1)
            result.rows_loaded += rows if status == LOADED else 0
    result.outside_prefixes = len({k for k, _ in fates if k not in listed and k.split("/", 1)[0] not in COLUMNS})
    return result

