"""Word lists that make generated reference data read like a European/US investment firm's books."""

from __future__ import annotations

# (first name, ASCII spelling for e-mail addresses); a few accents and apostrophes exercise UTF-8 and quoting.
FIRST_NAMES = (
    ("Anna", "anna"), ("Lukas", "lukas"), ("Sophie", "sophie"), ("Jonas", "jonas"), ("Emma", "emma"),
    ("Oliver", "oliver"), ("Amelia", "amelia"), ("Harry", "harry"), ("James", "james"), ("Olivia", "olivia"),
    ("Liam", "liam"), ("Mia", "mia"), ("Noah", "noah"), ("Charlotte", "charlotte"), ("Léa", "lea"),
    ("Hugo", "hugo"), ("Chloé", "chloe"), ("Louis", "louis"), ("Daan", "daan"), ("Sanne", "sanne"),
    ("Luca", "luca"), ("Giulia", "giulia"), ("Marco", "marco"), ("Sofia", "sofia"), ("José", "jose"),
    ("Lucía", "lucia"), ("Pablo", "pablo"), ("Elena", "elena"), ("Björn", "bjorn"), ("Astrid", "astrid"),
    ("Seán", "sean"), ("Aoife", "aoife"), ("Niamh", "niamh"), ("Matteo", "matteo"), ("Zoë", "zoe"),
    ("Ethan", "ethan"), ("Ava", "ava"), ("Mason", "mason"), ("Isabella", "isabella"), ("Felix", "felix"),
    ("Hannah", "hannah"), ("Leon", "leon"), ("Marie", "marie"), ("Paul", "paul"), ("Laura", "laura"),
    ("Priya", "priya"), ("Arjun", "arjun"), ("Mei", "mei"), ("Kenji", "kenji"), ("Fatima", "fatima"),
)  # fmt: skip
LAST_NAMES = (
    ("Müller", "mueller"), ("Schmidt", "schmidt"), ("Schneider", "schneider"), ("Fischer", "fischer"),
    ("Weber", "weber"), ("Smith", "smith"), ("Jones", "jones"), ("Taylor", "taylor"), ("Brown", "brown"),
    ("Williams", "williams"), ("O'Brien", "obrien"), ("Murphy", "murphy"), ("Martin", "martin"),
    ("Bernard", "bernard"), ("Dubois", "dubois"), ("Lefèvre", "lefevre"), ("de Jong", "dejong"),
    ("Jansen", "jansen"), ("van Dijk", "vandijk"), ("Rossi", "rossi"), ("Russo", "russo"), ("Ferrari", "ferrari"),
    ("García", "garcia"), ("Fernández", "fernandez"), ("López", "lopez"), ("Johansson", "johansson"),
    ("Andersson", "andersson"), ("Nielsen", "nielsen"), ("Keller", "keller"), ("Huber", "huber"),
    ("Gruber", "gruber"), ("Johnson", "johnson"), ("Miller", "miller"), ("Davis", "davis"), ("Wilson", "wilson"),
    ("Anderson", "anderson"), ("Patel", "patel"), ("Khan", "khan"), ("Nakamura", "nakamura"), ("Chen", "chen"),
)  # fmt: skip
EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example", "post.example")

# country code, weight, home currency
COUNTRIES = (
    ("DE", 24, "EUR"), ("GB", 20, "GBP"), ("US", 15, "USD"), ("FR", 9, "EUR"), ("NL", 7, "EUR"),
    ("CH", 6, "CHF"), ("IT", 5, "EUR"), ("ES", 4, "EUR"), ("AT", 3, "EUR"), ("BE", 2, "EUR"),
    ("SE", 2, "EUR"), ("IE", 2, "EUR"), ("LU", 1, "EUR"),
)  # fmt: skip

# exchange, weight, currency, ISIN country prefix
EQUITY_EXCHANGES = (
    ("NYSE", 26, "USD", "US"), ("NASDAQ", 26, "USD", "US"), ("XETRA", 16, "EUR", "DE"),
    ("EURONEXT PARIS", 9, "EUR", "FR"), ("EURONEXT AMSTERDAM", 6, "EUR", "NL"), ("LSE", 13, "GBP", "GB"),
    ("SIX", 4, "CHF", "CH"),
)  # fmt: skip
FUND_DOMICILES = (("IE", "EUR"), ("LU", "EUR"), ("IE", "USD"), ("GB", "GBP"))

EQUITY_SECTORS = (
    "Technology", "Healthcare", "Financials", "Energy", "Industrials", "Consumer Discretionary",
    "Consumer Staples", "Utilities", "Materials", "Real Estate", "Communication Services",
)  # fmt: skip
SECTORS_BY_CLASS = {
    "bond": ("Government", "Corporate", "Supranational"),
    "etf": ("Broad Market", "Fixed Income", "Technology", "Emerging Markets", "Dividend", "ESG"),
    "fund": ("Multi-Asset", "Fixed Income", "Global Equity", "Money Market"),
    "crypto": ("Digital Assets",),
    "commodity": ("Precious Metals", "Energy", "Agriculture", "Industrial Metals"),
}

NAME_WORDS = (
    "Northwind", "Contoso", "Fabrikam", "Tailspin", "Litware", "Proseware", "Adatum", "Woodgrove", "Fourth",
    "Coho", "Alpine", "Blue", "Silver", "Harbor", "Summit", "Meridian", "Atlas", "Aurora", "Vertex", "Helix",
    "Orion", "Nordic", "Rhine", "Thames", "Baltic", "Iberia", "Solar", "Quantum", "Cedar", "Granite",
)  # fmt: skip
NAME_NOUNS = (
    "Holdings", "Industries", "Systems", "Energy", "Pharma", "Logistics", "Bank", "Insurance", "Motors",
    "Foods", "Telecom", "Materials", "Semiconductors", "Retail", "Software", "Biotech", "Utilities", "Capital",
)  # fmt: skip
EQUITY_SUFFIXES = {"USD": ("Inc.", "Corp.", "Co."), "EUR": ("AG", "SE", "N.V.", "S.A."), "GBP": ("plc",)}
FUND_ISSUERS = ("iShares", "Vanguard", "Amundi", "Xtrackers", "SPDR", "Invesco", "DWS", "Fidelity", "Schroders")
BOND_ISSUERS = ("US Treasury", "Bund", "OAT", "Gilt", "EIB", "KfW", "World Bank")
CRYPTO_NAMES = (
    ("BTC", "Bitcoin"), ("ETH", "Ether"), ("SOL", "Solana"), ("ADA", "Cardano"), ("DOT", "Polkadot"),
    ("XRP", "XRP"), ("LTC", "Litecoin"), ("AVAX", "Avalanche"), ("LINK", "Chainlink"), ("XLM", "Stellar"),
    ("ATOM", "Cosmos"), ("ALGO", "Algorand"),
)  # fmt: skip
COMMODITY_NAMES = ("Gold", "Silver", "Platinum", "Brent Crude", "WTI Crude", "Natural Gas", "Copper", "Wheat")
