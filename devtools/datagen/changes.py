"""The reference-data timeline: day 1's full snapshots, later partial snapshots, and who may trade.

Everything is planned before the first trade, so the trade generator knows which clients stay verified and which
assets stay active for the whole run; that keeps naturally generated trades free of kyc violations and lets
the injected ones be the only ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from devtools.datagen import reference as ref
from devtools.datagen.config import DAY_SECONDS, STREAM_CHANGES, STREAM_REFERENCE, GeneratorConfig

OLD_CLIENT_DAYS = 30
NEW_CLIENTS_PER_DAY = 0.002  # share of the initial client base onboarded on each delivery day
PROFILE_CHANGES_PER_DAY = 0.004
KYC_CHANGES_PER_DAY = 0.001
ASSET_CHANGES_PER_DAY = 0.01


@dataclass
class ReferencePlan:
    """Reference rows per delivery plus the masks the trade and anomaly generators respect."""

    assets: pd.DataFrame
    clients: pd.DataFrame
    asset_first_day: np.ndarray
    client_first_day: np.ndarray
    deliveries: dict[tuple[str, int], pd.DataFrame] = field(default_factory=dict)
    asset_tradeable: np.ndarray | None = None
    asset_stable_inactive: np.ndarray | None = None
    client_tradeable: np.ndarray | None = None
    client_old: np.ndarray | None = None
    client_stable_nonverified: np.ndarray | None = None


def _delivery_days(cfg: GeneratorConfig, rng: np.random.Generator) -> list[int]:
    """Later days that carry a partial snapshot; day 2 always does so short runs still see one."""
    return [d for d in range(1, cfg.days) if d == 1 or rng.random() >= cfg.reference_skip_rate]


def _change_time(rng: np.random.Generator, cfg: GeneratorConfig, day: int, size: int) -> np.ndarray:
    # Reference systems export overnight, before the trading day starts.
    return cfg.day_epoch(day) + rng.integers(2 * 3_600, 5 * 3_600, size=size)


def _plan_clients(cfg: GeneratorConfig, rng: np.random.Generator, clients: pd.DataFrame, n_initial: int, days):
    """Mutates `clients` to its end-of-run state day by day; returns first-day array, deliveries, kyc-changed."""
    n_new_per_day = max(1, round(n_initial * NEW_CLIENTS_PER_DAY))
    first_day = np.full(len(clients), -1, dtype=np.int32)
    first_day[:n_initial] = 0
    start = cfg.start_epoch
    old = (clients["onboarded_at"].to_numpy() < start - OLD_CLIENT_DAYS * DAY_SECONDS) & (first_day == 0)
    verified = clients["kyc_status"].to_numpy() == "verified"
    kyc_changed = np.zeros(len(clients), dtype=bool)
    deliveries: dict[int, pd.DataFrame] = {}
    next_new = n_initial
    for day in days:
        new_idx = np.arange(next_new, next_new + n_new_per_day)
        next_new += n_new_per_day
        first_day[new_idx] = day
        onboarded = cfg.day_epoch(day) - rng.integers(3_600, 20 * 3_600, size=len(new_idx))
        clients.loc[new_idx, "onboarded_at"] = onboarded
        clients.loc[new_idx, "updated_at"] = onboarded + rng.integers(60, 3_600, size=len(new_idx))
        clients.loc[new_idx, "kyc_status"] = np.where(rng.random(len(new_idx)) < 0.85, "verified", "pending")

        pool = np.flatnonzero(old & ~kyc_changed)
        n_profile = max(1, round(n_initial * PROFILE_CHANGES_PER_DAY))
        profile_idx = rng.choice(pool, size=min(n_profile, len(pool)), replace=False)
        half = len(profile_idx) // 2
        clients.loc[profile_idx[:half], "risk_profile"] = rng.choice(ref.RISK_PROFILES, size=half)
        moved = clients.loc[profile_idx[half:], "email"].str.replace("@", ".new@", regex=False)
        clients.loc[profile_idx[half:], "email"] = moved.to_numpy()

        # KYC moves: verified clients expire, pending ones get verified. Either way they never trade naturally.
        n_kyc = max(1, round(n_initial * KYC_CHANGES_PER_DAY))
        kyc_pool = np.setdiff1d(pool, profile_idx)
        kyc_idx = rng.choice(kyc_pool, size=min(n_kyc, len(kyc_pool)), replace=False)
        kyc_changed[kyc_idx] = True
        was_verified = verified[kyc_idx]
        clients.loc[kyc_idx, "kyc_status"] = np.where(was_verified, "expired", "verified")

        changed = np.concatenate([profile_idx, kyc_idx])
        clients.loc[changed, "updated_at"] = _change_time(rng, cfg, day, len(changed))
        deliveries[day] = clients.loc[np.sort(np.concatenate([changed, new_idx]))].copy()
    return first_day, deliveries, kyc_changed


def _plan_assets(cfg: GeneratorConfig, rng: np.random.Generator, assets: pd.DataFrame, n_initial: int, days):
    first_day = np.full(len(assets), -1, dtype=np.int32)
    first_day[:n_initial] = 0
    active_changed = np.zeros(len(assets), dtype=bool)
    deliveries: dict[int, pd.DataFrame] = {}
    next_listing = n_initial
    for day in days:
        n_change = max(1, round(n_initial * ASSET_CHANGES_PER_DAY))
        pool = np.flatnonzero((first_day == 0) & ~active_changed)
        idx = rng.choice(pool, size=min(n_change + 1, len(pool)), replace=False)
        rated, delisted = idx[:-1], idx[-1:]
        rating = assets.loc[rated, "risk_rating"].to_numpy() + rng.choice([-1, 1], size=len(rated))
        assets.loc[rated, "risk_rating"] = np.clip(rating, 1, 7)
        assets.loc[delisted, "is_active"] = False
        active_changed[delisted] = True
        listed = np.arange(next_listing, min(next_listing + 1, len(assets)))
        next_listing += len(listed)
        first_day[listed] = day
        touched = np.concatenate([rated, delisted, listed])
        assets.loc[touched, "updated_at"] = _change_time(rng, cfg, day, len(touched))
        deliveries[day] = assets.loc[np.sort(touched)].copy()
    return first_day, deliveries, active_changed


def plan_reference(cfg: GeneratorConfig) -> ReferencePlan:
    """Build the initial books, the partial snapshots of later days, and the masks derived from them."""
    rng = cfg.rng(STREAM_REFERENCE)
    n_days_after = cfg.days - 1
    extra_assets = n_days_after
    extra_clients = n_days_after * max(1, round(cfg.n_clients * NEW_CLIENTS_PER_DAY))
    assets = ref.build_assets(rng, cfg.assets + extra_assets, cfg.start_epoch)
    clients = ref.build_clients(rng, cfg.n_clients + extra_clients, cfg.start_epoch)
    if not (~assets["is_active"].iloc[: cfg.assets]).any():
        assets.loc[cfg.assets - 1, "is_active"] = False  # the kyc rule needs one inactive asset to trade

    change_rng = cfg.rng(STREAM_CHANGES)
    days = _delivery_days(cfg, change_rng)
    initial_clients, initial_assets = clients.iloc[: cfg.n_clients].copy(), assets.iloc[: cfg.assets].copy()
    start_active = assets["is_active"].to_numpy().copy()
    start_kyc = clients["kyc_status"].to_numpy().copy()
    client_first_day, client_rows, kyc_changed = _plan_clients(cfg, change_rng, clients, cfg.n_clients, days)
    asset_first_day, asset_rows, active_changed = _plan_assets(cfg, change_rng, assets, cfg.assets, days)

    # New clients onboarded during the run trade modestly too (see reference.NEW_ACCOUNT_DAYS).
    in_run = client_first_day > 0
    seg_median = ref.SEGMENT_MEDIAN_AMOUNT[clients["_segment"].to_numpy()]
    base = clients["_base_amount"].to_numpy()
    clients["_base_amount"] = np.where(in_run, np.minimum(base, 2.0 * seg_median), base)

    plan = ReferencePlan(assets=assets, clients=clients, asset_first_day=asset_first_day,
                         client_first_day=client_first_day)  # fmt: skip
    plan.deliveries[("assets", 0)] = initial_assets
    plan.deliveries[("clients", 0)] = initial_clients
    plan.deliveries.update({("assets", d): rows for d, rows in asset_rows.items()})
    plan.deliveries.update({("clients", d): rows for d, rows in client_rows.items()})

    kyc_now = clients["kyc_status"].to_numpy()
    verified_at_entry = np.where(client_first_day > 0, kyc_now, start_kyc) == "verified"
    plan.asset_tradeable = start_active & ~active_changed & (asset_first_day == 0)
    plan.asset_stable_inactive = ~start_active & ~active_changed & (asset_first_day == 0)
    plan.client_tradeable = verified_at_entry & ~kyc_changed & (client_first_day >= 0)
    plan.client_old = (clients["onboarded_at"].to_numpy() < cfg.start_epoch - OLD_CLIENT_DAYS * DAY_SECONDS) & (
        client_first_day == 0
    )
    plan.client_stable_nonverified = (start_kyc != "verified") & ~kyc_changed & plan.client_old
    return plan
