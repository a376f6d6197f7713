"""The ground-truth manifest: every file, every upload, and where each dirty kind and anomaly was put.

Locations are `[key, row]` with `row` the 1-based data row, i.e. the raw layer's `_source_row`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from devtools.datagen.anomalies import FAMILIES
from devtools.datagen.config import GeneratorConfig
from devtools.datagen.contract import KEY_COLUMN
from devtools.datagen.delivery import Delivery
from devtools.datagen.dirty import CELL_KINDS, DUPLICATE_KINDS, ROW_KINDS
from devtools.datagen.writer import BROKEN_KINDS

# The quarantine reason docs/landing-contract.md asks the loader to record for each broken-file kind.
QUARANTINE_REASON = {
    "empty_file": "empty_file", "header_only": "header_only", "truncated_gzip": "not_declared_format",
    "parquet_is_csv": "not_declared_format", "missing_key_column": "missing_key_column", "invalid_utf8": "bad_encoding",
}  # fmt: skip
FILE_KINDS = ("late_file", "redelivered_file", "copied_file", "extra_column", "header_variation")
# What the pipeline should do with each row kind once dbt has cleaned the data.
EXPECTED = {**{k: "cleaned" for k in CELL_KINDS}, **{k: "deduplicated" for k in DUPLICATE_KINDS}}


class ManifestBuilder:
    def __init__(self, cfg: GeneratorConfig) -> None:
        self.cfg = cfg
        self.files: list[dict] = []
        self.uploads: list[dict] = []
        self.row_kinds = {k: {"expect": EXPECTED.get(k, "rejected"), "count": 0, "locations": [], "ids": []}
                          for k in ROW_KINDS}  # fmt: skip
        self.file_kinds = {k: {"count": 0, "keys": []} for k in FILE_KINDS}
        self.broken_files = {k: {"quarantine_reason": QUARANTINE_REASON[k], "count": 0, "keys": []}
                             for k in BROKEN_KINDS}  # fmt: skip
        self.anomalies = {f: {"count": 0, "ids": []} for f in FAMILIES}

    def record(self, d: Delivery) -> None:
        self.uploads.append({"seq": len(self.uploads) + 1, "key": d.key, "delivered_on": d.delivered_on.isoformat(),
                             "event": d.event, "bytes": len(d.data), "md5": d.md5})  # fmt: skip
        for kind in d.file_kinds:
            self.file_kinds[kind]["count"] += 1
            self.file_kinds[kind]["keys"].append(d.key)
        if d.event == "redelivery":
            return
        self.files.append({
            "key": d.key, "source": d.source, "dt": d.dt.isoformat(), "delivered_on": d.delivered_on.isoformat(),
            "format": d.fmt, "rows": d.rows, "bytes": len(d.data), "md5": d.md5, "kinds": list(d.file_kinds),
            "broken": d.broken, "copy_of": d.copy_of,
        })  # fmt: skip
        if d.broken:
            self.broken_files[d.broken]["count"] += 1
            self.broken_files[d.broken]["keys"].append(d.key)
        if d.row_tags is None or not len(d.row_tags):
            return
        keys = None
        for code in np.unique(d.row_tags[d.row_tags > 0]):
            kind = ROW_KINDS[int(code) - 1]
            rows = np.flatnonzero(d.row_tags == code)
            if keys is None:
                names = [n.lower() for n in d.table.column_names]
                keys = d.table.column(names.index(KEY_COLUMN[d.source])).to_pylist()
            entry = self.row_kinds[kind]
            entry["count"] += len(rows)
            entry["locations"].extend([d.key, int(r) + 1] for r in rows)
            entry["ids"].extend(keys[int(r)] for r in rows)

    def add_anomalies(self, family: str, ids: list[str]) -> None:
        self.anomalies[family]["count"] += len(ids)
        self.anomalies[family]["ids"].extend(ids)

    def to_dict(self) -> dict:
        totals: dict[str, dict[str, int]] = {}
        for f in self.files:
            t = totals.setdefault(f["source"], {"files": 0, "rows": 0})
            t["files"] += 1
            t["rows"] += f["rows"]
        cfg = self.cfg
        return {
            "manifest_version": 1,
            "run_id": cfg.run_id,
            "params": {
                "start": cfg.start.isoformat(), "days": cfg.days, "transactions_per_day": cfg.transactions_per_day,
                "seed": cfg.seed, "assets": cfg.assets, "clients": cfg.n_clients, "dirty_rate": cfg.dirty_rate,
                "anomaly_rate": cfg.anomaly_rate, "broken_files": cfg.broken_files,
                "reference_skip_rate": cfg.reference_skip_rate, "chunk_rows": cfg.chunk_rows,
            },  # fmt: skip
            "totals": totals,
            "files": self.files,
            "uploads": self.uploads,
            "row_kinds": self.row_kinds,
            "file_kinds": self.file_kinds,
            "broken_files": self.broken_files,
            "anomalies": self.anomalies,
        }

    def write(self, path: Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=1, default=str) + "\n")
        return path
