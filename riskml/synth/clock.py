"""When commits happen: a working-time clock over weekdays, with some evenings and weekends."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

DAY = 86400
HOUR = 3600
WORKDAY = int(9.5 * HOUR)


class Clock:
    """Main-line slot times for ``commits`` commits spread over a history starting ``start``.

    Time advances in working seconds (9.5 hours a weekday) with exponential gaps; the span
    grows with the number of commits, between 120 days and four years.
    """

    def __init__(self, rng: random.Random, commits: int, start: date) -> None:
        self.rng = rng
        self.start = start
        span_days = min(1460.0, max(120.0, commits * 0.55))
        workdays = span_days * 5 / 7
        self.mean_gap = workdays * WORKDAY / commits
        self.wclock = 0.0

    def local(self, w: float) -> int:
        """Local wall-clock seconds (naive epoch) of working-time offset ``w``."""
        k, within = divmod(int(w), WORKDAY)
        weeks, rem = divmod(k, 5)
        d = self.start + timedelta(days=7 * weeks)
        while d.weekday() >= 5:
            d += timedelta(days=1)
        for _ in range(rem):
            d += timedelta(days=1)
            while d.weekday() >= 5:
                d += timedelta(days=1)
        base = int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp())
        return base + 9 * HOUR + within

    def next_slot(self) -> int:
        """Advance by one gap; the local wall-clock time of that main-line slot."""
        self.wclock += self.rng.expovariate(1 / self.mean_gap)
        local = self.local(self.wclock)
        r = self.rng.random()
        if r < 0.08:
            local += self.rng.randint(10 * HOUR, 14 * HOUR)  # evening or night
        elif r < 0.1:  # the coming weekend
            weekday = datetime.fromtimestamp(local, UTC).weekday()
            local += ((5 - weekday) % 7 + self.rng.randint(0, 1)) * DAY
        return local
