"""Reference implementations of the seven anomaly rules over audited, deduplicated transactions.

They follow the rule wording in docs/landing-contract.md; tests use them to check that every injected anomaly
is flagged, and that ordinary generated trades trip none of rules 2-7.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

BUY_SELL = ("buy", "sell")


def prepare(tx: pd.DataFrame, clients: pd.DataFrame, assets: pd.DataFrame) -> pd.DataFrame:
    """Typed transactions joined to the latest client and asset attributes."""
    from devtools.datagen.audit import parse_ts

    df = tx.copy()
    for col in ("quantity", "price", "amount"):
        df[col] = pd.to_numeric(df[col])
    for col in ("transaction_type", "status"):
        df[col] = df[col].str.lower()
    df["executed"] = df["executed_at"].map(parse_ts).map(lambda t: int(t.timestamp()))
    cl = clients.assign(
        kyc=clients["kyc_status"].str.lower(),
        segment_=clients["segment"].str.lower(),
        onboarded=clients["onboarded_at"].map(parse_ts).map(lambda t: int(t.timestamp())),
    )[["client_id", "kyc", "segment_", "onboarded"]]
    active = assets["is_active"].str.lower().isin(("true", "yes", "y", "1"))
    df = df.merge(cl, on="client_id", how="left")
    return df.merge(assets.assign(active=active)[["asset_id", "active"]], on="asset_id", how="left")


def amount_outlier(df: pd.DataFrame) -> set[str]:
    """z-score of amount vs the client's earlier settled buys/sells > 4, with at least 5 of them (sample std)."""
    bs = df[df["transaction_type"].isin(BUY_SELL)].sort_values(["client_id", "executed", "transaction_id"])
    settled = (bs["status"] == "settled").astype(float)
    amount = bs["amount"] * settled
    n = settled.groupby(bs["client_id"]).cumsum() - settled
    s1 = amount.groupby(bs["client_id"]).cumsum() - amount
    s2 = (amount**2).groupby(bs["client_id"]).cumsum() - amount**2
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s1 / n
        std = np.sqrt((s2 - n * mean**2) / (n - 1))
        z = (bs["amount"] - mean) / std
    return set(bs.loc[(n >= 5) & (z > 4), "transaction_id"])


def price_deviation(df: pd.DataFrame) -> set[str]:
    bs = df[df["transaction_type"].isin(BUY_SELL)].copy()
    bs["day"] = bs["executed"] // 86_400
    grp = bs.groupby(["asset_id", "day"])["price"]
    bs["median"], bs["n"] = grp.transform("median"), grp.transform("size")
    hit = (bs["n"] >= 3) & ((bs["price"] / bs["median"] - 1).abs() > 0.2)
    return set(bs.loc[hit, "transaction_id"])


def velocity_burst(df: pd.DataFrame) -> set[str]:
    """A client's 10th or later transaction within (t - 10 minutes, t]."""
    d = df.sort_values(["client_id", "executed", "transaction_id"])
    code = d["client_id"].astype("category").cat.codes.to_numpy().astype(np.int64)
    key = code * 10**10 + d["executed"].to_numpy()
    first = np.searchsorted(key, key - 600, side="right")
    in_window = np.arange(len(key)) - first + 1
    return set(d.loc[in_window >= 10, "transaction_id"])


def duplicate_suspect(df: pd.DataFrame) -> set[str]:
    cols = ["client_id", "asset_id", "transaction_type", "quantity", "price"]
    bs = df[df["transaction_type"].isin(BUY_SELL)][[*cols, "executed", "transaction_id"]]
    pairs = bs.merge(bs, on=cols, suffixes=("", "_other"))
    close = (pairs["transaction_id"] != pairs["transaction_id_other"]) & (
        (pairs["executed"] - pairs["executed_other"]).abs() <= 120
    )
    return set(pairs.loc[close, "transaction_id"])


def oversell(df: pd.DataFrame) -> set[str]:
    """A sell taking the running net quantity of (client, asset) below zero; cancelled/failed rows ignored."""
    bs = df[df["transaction_type"].isin(BUY_SELL) & ~df["status"].isin(("cancelled", "failed"))]
    bs = bs.sort_values(["client_id", "asset_id", "executed", "transaction_id"])
    signed = np.where(bs["transaction_type"] == "sell", -bs["quantity"], bs["quantity"])
    running = pd.Series(signed, index=bs.index).groupby([bs["client_id"], bs["asset_id"]]).cumsum()
    return set(bs.loc[(bs["transaction_type"] == "sell") & (running < -1e-9), "transaction_id"])


def kyc_violation(df: pd.DataFrame) -> set[str]:
    hit = (df["kyc"] != "verified") | (df["asset_id"].notna() & df["active"].eq(False))
    return set(df.loc[hit, "transaction_id"])


def new_account_large_trade(df: pd.DataFrame) -> set[str]:
    bs = df[df["transaction_type"].isin(BUY_SELL)]
    median = bs.groupby("segment_")["amount"].median()
    age = df["executed"] - df["onboarded"]
    hit = (age >= 0) & (age < 7 * 86_400) & (df["amount"] > 10 * df["segment_"].map(median))
    return set(df.loc[hit & df["transaction_type"].isin(BUY_SELL), "transaction_id"])


RULES = {
    "amount_outlier": amount_outlier,
    "price_deviation": price_deviation,
    "velocity_burst": velocity_burst,
    "duplicate_suspect": duplicate_suspect,
    "oversell": oversell,
    "kyc_violation": kyc_violation,
    "new_account_large_trade": new_account_large_trade,
}


def detect(tx: pd.DataFrame, clients: pd.DataFrame, assets: pd.DataFrame) -> dict[str, set[str]]:
    df = prepare(tx, clients, assets)
    return {name: rule(df) for name, rule in RULES.items()}
