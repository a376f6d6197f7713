"""The sample-data generator: deterministic, contract-shaped, and its manifest matches what the files contain.

Claims are checked by re-reading the written files (devtools/datagen/audit.py parses the bytes on its own),
never by trusting the generator's bookkeeping. No network or S3: everything goes to a temporary directory.
"""

from __future__ import annotations

import json
import re
import resource
import subprocess
import sys
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pytest

from devtools.datagen import GeneratorConfig, generate, write_to_dir, write_to_s3
from devtools.datagen.anomalies import FAMILIES
from devtools.datagen.audit import BrokenFile, audit_directory, read_rows
from devtools.datagen.audit_anomalies import detect
from devtools.datagen.contract import COLUMNS
from devtools.datagen.dirty import ROW_KINDS
from devtools.datagen.manifest import FILE_KINDS
from devtools.datagen.writer import BROKEN_KINDS

REPO_ROOT = Path(__file__).resolve().parents[2]
SMALL = GeneratorConfig(start=date(2026, 11, 20), days=3, transactions_per_day=2_000, seed=42)
KEY_LAYOUT = re.compile(r"^(assets|clients|transactions)/dt=\d{4}-\d{2}-\d{2}/[^/]+\.(csv|csv\.gz|parquet)$")


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """The brief's small run (3 days x 2000 trades), written once, audited once."""
    root = tmp_path_factory.mktemp("landing")
    result = write_to_dir(SMALL, root / "landing", root / "manifest.json")
    manifest = json.loads((root / "manifest.json").read_text())
    audit = audit_directory(root / "landing", [u["key"] for u in manifest["uploads"]])
    return root / "landing", manifest, audit, result


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_files(small_run, tmp_path):
    root, manifest, _, _ = small_run
    again = write_to_dir(SMALL, tmp_path / "again", tmp_path / "manifest.json")
    assert _files(tmp_path / "again") == _files(root)
    assert again.manifest == manifest


def test_another_seed_gives_other_data(small_run):
    _, manifest, _, _ = small_run
    _, other = generate(GeneratorConfig(start=SMALL.start, days=SMALL.days, transactions_per_day=2_000, seed=43))
    assert {f["md5"] for f in other["files"]} != {f["md5"] for f in manifest["files"]}


def test_keys_follow_the_landing_layout_and_no_manifest_lands(small_run):
    root, manifest, _, _ = small_run
    keys = set(_files(root))
    assert keys == {f["key"] for f in manifest["files"]}
    assert all(KEY_LAYOUT.match(k) for k in keys), sorted(k for k in keys if not KEY_LAYOUT.match(k))


def test_every_contract_column_is_present_in_every_readable_file(small_run):
    root, _, audit, _ = small_run
    readable = [k for k, facts in audit.files.items() if not facts.broken and not facts.copy_of]
    assert {k.split("/")[0] for k in readable} == set(COLUMNS)
    for key in readable:
        header, rows = read_rows(key, (root / key).read_bytes())
        assert set(COLUMNS[key.split("/")[0]]) <= {h.strip().lower() for h in header}, key
        assert rows


def test_every_format_appears(small_run):
    _, manifest, _, _ = small_run
    assert {f["format"] for f in manifest["files"] if not f["broken"]} == {"csv", "csv.gz", "parquet"}


@pytest.mark.parametrize("kind", ROW_KINDS)
def test_dirty_rows_are_where_the_manifest_says(small_run, kind):
    _, manifest, audit, _ = small_run
    claimed = {tuple(loc) for loc in manifest["row_kinds"][kind]["locations"]}
    assert claimed, f"the small run has no {kind}"
    assert manifest["row_kinds"][kind]["count"] == len(claimed)
    assert audit.row_kinds.get(kind, set()) == claimed


def test_audit_finds_no_dirt_the_manifest_does_not_name(small_run):
    _, _, audit, _ = small_run
    assert set(audit.row_kinds) <= set(ROW_KINDS), set(audit.row_kinds) - set(ROW_KINDS)


@pytest.mark.parametrize("kind", BROKEN_KINDS)
def test_broken_files_fail_to_read_for_the_claimed_reason(small_run, kind):
    root, manifest, _, _ = small_run
    keys = manifest["broken_files"][kind]["keys"]
    assert keys
    for key in keys:
        with pytest.raises(BrokenFile, match=kind):
            read_rows(key, (root / key).read_bytes())


def test_file_level_kinds_match_the_files(small_run):
    root, manifest, audit, _ = small_run
    kinds = manifest["file_kinds"]
    assert all(kinds[k]["count"] >= 1 for k in FILE_KINDS), {k: v["count"] for k, v in kinds.items()}
    assert set(kinds["extra_column"]["keys"]) == {k for k, f in audit.files.items() if f.extra_columns}
    assert set(kinds["header_variation"]["keys"]) == {k for k, f in audit.files.items() if f.header_variation}
    assert set(kinds["copied_file"]["keys"]) == {k for k, f in audit.files.items() if f.copy_of}
    for key in kinds["redelivered_file"]["keys"]:
        uploads = [u for u in manifest["uploads"] if u["key"] == key]
        assert [u["event"] for u in uploads] == ["new", "redelivery"]
        assert len({u["md5"] for u in uploads}) == 1
    for key in kinds["late_file"]["keys"]:
        entry = next(f for f in manifest["files"] if f["key"] == key)
        assert entry["delivered_on"] > entry["dt"]
        header, rows = read_rows(key, (root / key).read_bytes())
        executed = [h.lower() for h in header].index("executed_at")
        assert {r[executed][:10] for r in rows} == {entry["dt"]}


@pytest.mark.parametrize("family", FAMILIES)
def test_anomaly_rules_flag_exactly_the_injected_rows(small_run, family):
    _, manifest, audit, _ = small_run
    flagged = detect(audit.latest("transactions"), audit.latest("clients"), audit.latest("assets"))
    injected = set(manifest["anomalies"][family]["ids"])
    assert injected, f"the small run has no {family}"
    assert manifest["anomalies"][family]["count"] == len(injected)
    assert flagged[family] == injected


def test_valid_trades_have_amount_equal_to_quantity_times_price(small_run):
    root, manifest, _, _ = small_run
    rejected = {tuple(loc) for e in manifest["row_kinds"].values() if e["expect"] == "rejected"
                for loc in e["locations"]}  # fmt: skip
    checked = 0
    for f in manifest["files"]:
        if f["source"] != "transactions" or f["broken"] or f["copy_of"]:  # a copy repeats its original
            continue
        header, rows = read_rows(f["key"], (root / f["key"]).read_bytes())
        col = {h.strip().lower(): i for i, h in enumerate(header)}
        for i, row in enumerate(rows, start=1):
            if (f["key"], i) in rejected or row[col["transaction_type"]].strip().lower() not in ("buy", "sell"):
                continue
            qty, price, amount = (float(row[col[c]]) for c in ("quantity", "price", "amount"))
            assert qty > 0 and price > 0
            assert abs(amount - qty * price) <= 0.01 + 1e-9, (f["key"], i)
            checked += 1
    assert checked > 5_000


def test_zero_rates_give_clean_rows_and_no_anomalies(tmp_path):
    cfg = GeneratorConfig(start=date(2026, 11, 20), days=4, transactions_per_day=3_000, seed=7, dirty_rate=0,
                          anomaly_rate=0, broken_files=False)  # fmt: skip
    result = write_to_dir(cfg, tmp_path / "landing")
    audit = audit_directory(tmp_path / "landing", [u["key"] for u in result.manifest["uploads"]])
    assert not any(audit.row_kinds.values())
    flagged = detect(audit.latest("transactions"), audit.latest("clients"), audit.latest("assets"))
    assert flagged == {family: set() for family in FAMILIES}


def test_200k_transaction_run_finishes_with_bounded_memory(tmp_path):
    """Two days of 100k trades in 50k-row parts via the CLI, in a child process so its peak RSS is its own."""
    out = subprocess.run(
        [sys.executable, "-m", "devtools.datagen", "--days", "2", "--transactions-per-day", "100000",
         "--chunk-rows", "50000", "--output-dir", str(tmp_path / "landing"), "--manifest", str(tmp_path / "m.json")],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    manifest = json.loads((tmp_path / "m.json").read_text())
    parts = [f for f in manifest["files"] if "part-" in f["key"] and not f["copy_of"]]
    assert len(parts) == 4 and sum(f["rows"] for f in parts) > 200_000
    assert "transactions" in out.stdout
    assert peak_mb < 1_500, f"peak RSS {peak_mb:.0f} MB"


class _RecordingS3:
    """Stands in for boto3's client: records put_object calls instead of sending them."""

    def __init__(self) -> None:
        self.puts: list[tuple[str, str, bytes]] = []

    def put_object(self, Bucket: str, Key: str, Body: bytes) -> None:  # boto3's keyword names
        self.puts.append((Bucket, Key, Body))


def test_write_to_s3_uploads_every_delivery_in_order_to_the_landing_bucket():
    s3 = _RecordingS3()
    cfg = GeneratorConfig(start=date(2026, 11, 20), days=2, transactions_per_day=500, seed=3)
    result = write_to_s3(cfg, settings=SimpleNamespace(landing_bucket="landing"), client=s3)
    assert [(b, k) for b, k, _ in s3.puts] == [("landing", u["key"]) for u in result.manifest["uploads"]]
    assert not any(k.startswith("_") for _, k, _ in s3.puts)
    redelivered = result.manifest["file_kinds"]["redelivered_file"]["keys"][0]
    bodies = [body for _, k, body in s3.puts if k == redelivered]
    assert len(bodies) == 2 and bodies[0] == bodies[1]
