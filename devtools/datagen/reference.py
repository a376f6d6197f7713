"""Assets and clients as they stand before the run: the books of a mid-sized investment firm.

Everything is vectorised with numpy/pyarrow so a few million clients stay cheap; only the (few hundred) assets
get per-row Python for names, tickers and ISIN check digits.
"""

from __future__ import annotations

import string

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from devtools.datagen import vocab
from devtools.datagen.config import DAY_SECONDS

ASSET_CLASSES = ("equity", "bond", "etf", "fund", "crypto", "commodity")
CLASS_WEIGHTS = (0.55, 0.12, 0.15, 0.08, 0.06, 0.04)
# Per class: quantity decimals, median start price, daily log-return volatility, risk rating range (SRRI 1-7).
QTY_DECIMALS = np.array([0, 0, 0, 3, 4, 2], dtype=np.int64)
MEDIAN_PRICE = np.array([60.0, 98.0, 80.0, 25.0, 40.0, 30.0])
PRICE_SPREAD = np.array([0.9, 0.03, 0.5, 0.4, 2.5, 0.7])
DAILY_VOL = np.array([0.018, 0.003, 0.010, 0.008, 0.040, 0.015])
RISK_RANGE = ((5, 6), (2, 3), (4, 5), (3, 4), (7, 7), (5, 6))

SEGMENTS = ("retail", "high_net_worth", "institutional")
SEGMENT_WEIGHTS = (0.86, 0.11, 0.03)
# Typical trade size per segment; a client's own typical size scatters around it.
SEGMENT_MEDIAN_AMOUNT = np.array([2_500.0, 25_000.0, 250_000.0])
SEGMENT_ACTIVITY = np.array([1.0, 1.5, 3.0])
RISK_PROFILES = ("conservative", "moderate", "aggressive")
KYC_STATUSES = ("verified", "pending", "expired", "rejected")
KYC_WEIGHTS = (0.90, 0.05, 0.03, 0.02)
UNIVERSE_SIZE = 12
# Clients onboarded this close to the run start count as "new" for the new-account rule (7 days, plus margin).
NEW_ACCOUNT_DAYS = 10
NO_DATE = -(10**7)  # date_of_birth is empty for institutions; epoch days go negative before 1970


BOND_DOMICILE = {"US Treasury": ("US", "USD"), "Gilt": ("GB", "GBP"), "Bund": ("DE", "EUR"), "OAT": ("FR", "EUR")}


def _choice(rng: np.random.Generator, options, weights, size: int) -> np.ndarray:
    p = np.asarray(weights, dtype=float)
    return rng.choice(len(options), size=size, p=p / p.sum())


def _isin(prefix: str, body: str) -> str:
    """ISO 6166 check digit: letters become 10..35, then Luhn over the digit string."""
    digits = "".join(str(int(ch, 36)) for ch in prefix + body)
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch) * (2 if i % 2 == 0 else 1)
        total += n // 10 + n % 10
    return f"{prefix}{body}{(10 - total % 10) % 10}"


def _unique_tickers(rng: np.random.Generator, n: int, reserved: set[str]) -> list[str]:
    letters = np.array(list(string.ascii_uppercase))
    seen = set(reserved)
    out: list[str] = []
    while len(out) < n:
        length = int(rng.integers(3, 5))
        ticker = "".join(rng.choice(letters, size=length))
        if ticker not in seen:
            seen.add(ticker)
            out.append(ticker)
    return out


def _asset_row(rng: np.random.Generator, cls: str, ticker: str, crypto_slot: int) -> dict:
    """Name, sector, venue, currency and ISIN for one asset; the shapes differ by class."""
    word = vocab.NAME_WORDS[int(rng.integers(len(vocab.NAME_WORDS)))]
    noun = vocab.NAME_NOUNS[int(rng.integers(len(vocab.NAME_NOUNS)))]
    issuer = vocab.FUND_ISSUERS[int(rng.integers(len(vocab.FUND_ISSUERS)))]
    isin_body = "".join(rng.choice(list(string.digits + "ABCDEFGHJKLMNPQRSTUVWXYZ"), size=9))
    if cls == "crypto":
        symbol, name = vocab.CRYPTO_NAMES[crypto_slot] if crypto_slot < len(vocab.CRYPTO_NAMES) else (ticker, word)
        return {"symbol": symbol, "asset_name": name, "sector": "Digital Assets", "currency": "USD",
                "exchange": "", "isin": ""}  # fmt: skip
    if cls == "equity":
        ex = vocab.EQUITY_EXCHANGES[_choice(rng, vocab.EQUITY_EXCHANGES, [e[1] for e in vocab.EQUITY_EXCHANGES], 1)[0]]
        suffixes = vocab.EQUITY_SUFFIXES.get(ex[2], ("AG",))
        suffix = suffixes[int(rng.integers(len(suffixes)))]
        # A comma inside some names keeps CSV quoting honest.
        name = f"{word} {noun}, {suffix}" if rng.random() < 0.25 else f"{word} {noun} {suffix}"
        sector = vocab.EQUITY_SECTORS[int(rng.integers(len(vocab.EQUITY_SECTORS)))]
        return {"symbol": ticker, "asset_name": name, "sector": sector, "currency": ex[2], "exchange": ex[0],
                "isin": _isin(ex[3], isin_body)}  # fmt: skip
    sectors = vocab.SECTORS_BY_CLASS[cls]
    sector = sectors[int(rng.integers(len(sectors)))]
    domicile, currency = vocab.FUND_DOMICILES[int(rng.integers(len(vocab.FUND_DOMICILES)))]
    if cls == "bond":
        issuer = vocab.BOND_ISSUERS[int(rng.integers(len(vocab.BOND_ISSUERS)))]
        coupon = f"{rng.integers(1, 20) * 0.25:.2f}"
        name = f"{issuer} {coupon}% {int(rng.integers(2027, 2056))}"
        domicile, currency = BOND_DOMICILE.get(issuer, ("XS", "EUR"))
        return {"symbol": ticker, "asset_name": name, "sector": sector, "currency": currency, "exchange": "OTC",
                "isin": _isin(domicile, isin_body)}  # fmt: skip
    if cls == "commodity":
        name = f"{issuer} Physical {vocab.COMMODITY_NAMES[int(rng.integers(len(vocab.COMMODITY_NAMES)))]} ETC"
    else:
        name = f"{issuer} {sector} {'UCITS ETF' if cls == 'etf' else 'Fund'}"
    exchange = {"etf": "XETRA", "commodity": "LSE"}.get(cls, "")
    return {"symbol": ticker, "asset_name": name, "sector": sector, "currency": currency, "exchange": exchange,
            "isin": _isin(domicile, isin_body)}  # fmt: skip


def build_assets(rng: np.random.Generator, n: int, start_epoch: int) -> pd.DataFrame:
    """`n` assets with contract columns plus helper columns prefixed `_` (class index, decimals, prices)."""
    class_idx = _choice(rng, ASSET_CLASSES, CLASS_WEIGHTS, n)
    class_idx[:3] = [0, 4, 1]  # every small universe still has equities, crypto and bonds
    tickers = _unique_tickers(rng, n, reserved={c[0] for c in vocab.CRYPTO_NAMES})
    crypto_rank = np.cumsum(class_idx == 4) - 1
    rows = [_asset_row(rng, ASSET_CLASSES[c], tickers[i], int(crypto_rank[i])) for i, c in enumerate(class_idx)]
    df = pd.DataFrame(rows)
    df.insert(0, "asset_id", [f"A{i + 1:05d}" for i in range(n)])
    df.insert(3, "asset_class", [ASSET_CLASSES[c] for c in class_idx])
    lo = np.array([r[0] for r in RISK_RANGE])[class_idx]
    hi = np.array([r[1] for r in RISK_RANGE])[class_idx]
    df["risk_rating"] = rng.integers(lo, hi + 1)
    df["is_active"] = rng.random(n) >= 0.03
    df["updated_at"] = start_epoch - rng.integers(2 * DAY_SECONDS, 730 * DAY_SECONDS, size=n)
    df["_class"] = class_idx
    df["_qty_decimals"] = QTY_DECIMALS[class_idx]
    df["_start_price"] = MEDIAN_PRICE[class_idx] * np.exp(rng.normal(0.0, PRICE_SPREAD[class_idx]))
    df["_daily_vol"] = DAILY_VOL[class_idx]
    # Popularity: a few names attract most trades, as in any brokerage.
    df["_popularity"] = 1.0 / (rng.permutation(n) + 1.0) ** 0.8
    return df


def _join(*parts) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def build_clients(rng: np.random.Generator, n: int, start_epoch: int) -> pd.DataFrame:
    """`n` clients with contract columns plus helper columns (`_segment`, `_base_amount`, `_activity`, ...)."""
    first = rng.integers(len(vocab.FIRST_NAMES), size=n)
    last = rng.integers(len(vocab.LAST_NAMES), size=n)
    country = _choice(rng, vocab.COUNTRIES, [c[1] for c in vocab.COUNTRIES], n)
    segment = _choice(rng, SEGMENTS, SEGMENT_WEIGHTS, n)
    ids = np.arange(1, n + 1)
    first_ascii = pa.array([f[1] for f in vocab.FIRST_NAMES]).take(pa.array(first))
    last_ascii = pa.array([f[1] for f in vocab.LAST_NAMES]).take(pa.array(last))
    domain = pa.array(vocab.EMAIL_DOMAINS).take(pa.array(rng.integers(len(vocab.EMAIL_DOMAINS), size=n)))
    email = _join(first_ascii, ".", last_ascii, pc.cast(pa.array(ids % 997), pa.string()), "@", domain)

    # Onboarding: mostly years ago, 2% within the last week (new-account candidates from day one).
    recent = rng.random(n) < 0.02
    onboarded = np.where(
        recent,
        start_epoch - rng.integers(3_600, 6 * DAY_SECONDS, size=n),
        start_epoch - rng.integers(30 * DAY_SECONDS, 8 * 365 * DAY_SECONDS, size=n),
    )
    updated = onboarded + (rng.random(n) * (start_epoch - 3_600 - onboarded)).astype(np.int64)
    age_days = rng.integers(18 * 365, 85 * 365, size=n) + np.where(segment == 1, 15 * 365, 0)
    dob = np.where(segment == 2, NO_DATE, start_epoch // DAY_SECONDS - np.minimum(age_days, 90 * 365))

    base = SEGMENT_MEDIAN_AMOUNT[segment] * np.exp(rng.normal(0.0, 0.7, size=n))
    new = onboarded >= start_epoch - NEW_ACCOUNT_DAYS * DAY_SECONDS
    # New accounts trade modestly, so only injected trades cross the new-account 10x threshold.
    base = np.where(new, np.minimum(base, 2.0 * SEGMENT_MEDIAN_AMOUNT[segment]), base)
    activity = np.minimum(np.exp(rng.normal(0.0, 1.0, size=n)), 15.0) * SEGMENT_ACTIVITY[segment]

    return pd.DataFrame(
        {
            "client_id": _join("C", pc.utf8_lpad(pc.cast(pa.array(ids), pa.string()), 7, "0")),
            "first_name": pa.array([f[0] for f in vocab.FIRST_NAMES]).take(pa.array(first)),
            "last_name": pa.array([f[0] for f in vocab.LAST_NAMES]).take(pa.array(last)),
            "email": email,
            "country_code": [vocab.COUNTRIES[c][0] for c in country],
            "date_of_birth": dob,
            "segment": np.array(SEGMENTS)[segment],
            "risk_profile": np.array(RISK_PROFILES)[_choice(rng, RISK_PROFILES, (0.30, 0.45, 0.25), n)],
            "kyc_status": np.array(KYC_STATUSES)[_choice(rng, KYC_STATUSES, KYC_WEIGHTS, n)],
            "onboarded_at": onboarded,
            "updated_at": updated,
            "_segment": segment,
            "_home_currency": np.array([c[2] for c in vocab.COUNTRIES])[country],
            "_base_amount": base,
            "_activity": activity,
        }
    )


def build_universes(rng: np.random.Generator, n_clients: int, tradeable_assets: np.ndarray, popularity: np.ndarray):
    """Each client's favourite assets (clients × UNIVERSE_SIZE asset indices); repeats are harmless."""
    p = popularity[tradeable_assets]
    return tradeable_assets[rng.choice(len(tradeable_assets), size=(n_clients, UNIVERSE_SIZE), p=p / p.sum())]
