"""Which days carry the file-level events (late files, redeliveries, extra columns, ...), fixed by run length.

Events repeat weekly on long runs and are squeezed into the first days of short ones, so a 3-day run has them all.
"""

from __future__ import annotations

from dataclasses import dataclass

EVERY = 7


@dataclass(frozen=True)
class FileSchedule:
    days: int

    @property
    def late_lag(self) -> int:
        return 2 if self.days >= 3 else 1

    def late_sources(self) -> list[int]:
        """Days whose late file (some of that day's transactions) is held back and delivered `late_lag` later."""
        return list(range(0, self.days - self.late_lag, EVERY)) if self.days >= 2 else []

    def redeliveries(self) -> dict[int, int]:
        """Delivery day -> day whose first transactions file is uploaded again (same key) and as a copy."""
        if self.days == 1:
            return {0: 0}
        return {r: r - 1 for r in range(1, self.days, EVERY)}

    def extra_column_days(self) -> list[int]:
        return list(range(min(1, self.days - 1), self.days, EVERY))

    def header_variation_days(self) -> list[int]:
        return list(range(min(2, self.days - 1), self.days, EVERY))

    def broken_day(self) -> int:
        return min(1, self.days - 1)
