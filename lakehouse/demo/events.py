"""User events: one file per day under ``events/date=YYYY-MM-DD/``, mixing the original
``M/d/yyyy H:mm`` format with ISO-8601, with late events (yesterday's events in today's file),
exact duplicates and a few rows missing their time (quarantined)."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

TYPES = ["login", "view", "click", "click", "purchase", "logout"]


def generate(out_dir: Path, days: int = 3, users: int = 8, seed: int = 5, start: dt.date = dt.date(2023, 1, 1)):
    rng = random.Random(seed)
    paths = []
    previous_day: list[str] = []
    for day in range(days):
        date = start + dt.timedelta(days=day)
        lines = []
        for user in range(1, users + 1):
            at = dt.datetime.combine(date, dt.time(8)) + dt.timedelta(minutes=rng.randrange(0, 600))
            for _ in range(rng.randint(2, 6)):
                at += dt.timedelta(minutes=rng.choice([1, 2, 5, 5, 10, 30]))
                text = (
                    f"{at.month}/{at.day}/{at.year} {at.hour}:{at:%M}"
                    if rng.random() < 0.6
                    else f"{at:%Y-%m-%dT%H:%M:%SZ}"
                )
                lines.append(f"{user},{rng.choice(TYPES)},{text}")
        late = rng.sample(previous_day, k=min(2, len(previous_day)))  # re-sent: exact duplicates
        lines += late + ([f"{users + 1},login,"] if day == 1 else [])  # missing time: quarantined
        rng.shuffle(lines)
        previous_day = lines
        path = out_dir / "events" / f"date={date.isoformat()}" / "user_events.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(["user_id,event_type,event_time", *lines]) + "\n")
        paths.append(path)
    return paths
