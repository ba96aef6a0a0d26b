"""Daily flight files and the airport dimension, deterministic for a seed.

Flights: ``airline/daily_flights/date=YYYY-MM-DD/flights.csv`` with header
``Carrier,OriginAirportID,DestAirportID,DepDelay,ArrDelay`` (the date is only in the path), skewed
carriers and delays (mostly early or slightly late, a long tail), empty delays for cancelled or
diverted flights, and a few airport ids that are not in the dimension.
Airports: ``airline/airport_codes/<name>.csv`` (``airport_id,city,state,name``), read from the real
US DOT file when given, else a small bundled list.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path

BUNDLED_AIRPORTS = [
    (10397, "Atlanta", "GA", "Hartsfield-Jackson Atlanta International"),
    (12478, "New York", "NY", "John F. Kennedy International"),
    (12892, "Los Angeles", "CA", "Los Angeles International"),
    (13930, "Chicago", "IL", "Chicago O'Hare International"),
    (11298, "Dallas/Fort Worth", "TX", "Dallas/Fort Worth International"),
    (11292, "Denver", "CO", "Denver International"),
    (14747, "Seattle", "WA", "Seattle/Tacoma International"),
    (14771, "San Francisco", "CA", "San Francisco International"),
    (13204, "Orlando", "FL", "Orlando International"),
    (11433, "Detroit", "MI", "Detroit Metro Wayne County"),
    (13303, "Miami", "FL", "Miami International"),
    (10721, "Boston", "MA", "Logan International"),
    (12266, "Houston", "TX", "George Bush Intercontinental/Houston"),
    (14107, "Phoenix", "AZ", "Phoenix Sky Harbor International"),
    (13487, "Minneapolis", "MN", "Minneapolis-St Paul International"),
]
CARRIERS = {"WN": 20, "DL": 18, "AA": 17, "UA": 14, "OO": 7, "B6": 6, "AS": 6, "NK": 5, "F9": 4, "YX": 3}
UNKNOWN_AIRPORTS = [99001, 99002, 99003]
FLIGHTS_HEADER = "Carrier,OriginAirportID,DestAirportID,DepDelay,ArrDelay"


def load_airports(airports_csv: Path | None) -> list[tuple[int, str, str, str]]:
    if airports_csv is None or not airports_csv.is_file():
        return list(BUNDLED_AIRPORTS)
    with open(airports_csv, newline="") as handle:
        return [(int(r["airport_id"]), r["city"], r["state"], r["name"]) for r in csv.DictReader(handle)]


def write_airports(out_dir: Path, airports: list[tuple[int, str, str, str]], name: str = "airports_v1.csv") -> Path:
    path = out_dir / "airline" / "airport_codes" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["airport_id", "city", "state", "name"])
        writer.writerows(airports)
    return path


def flight_lines(rng: random.Random, airport_ids: list[int], rows: int, unknown_rate: float, empty_rate: float):
    carriers, weights = zip(*CARRIERS.items(), strict=True)
    hubs = airport_ids[: max(3, len(airport_ids) // 10)]
    for _ in range(rows):
        carrier = rng.choices(carriers, weights)[0]
        origin = rng.choice(hubs) if rng.random() < 0.5 else rng.choice(airport_ids)
        dest = rng.choice([a for a in airport_ids if a != origin] or airport_ids)
        if rng.random() < unknown_rate:
            origin = rng.choice(UNKNOWN_AIRPORTS)
        if rng.random() < unknown_rate:
            dest = rng.choice(UNKNOWN_AIRPORTS)
        dep = round(rng.gauss(-3, 6)) if rng.random() < 0.8 else round(rng.expovariate(1 / 45))
        arr = dep + round(rng.gauss(-4, 7))
        dep_text, arr_text = str(dep), str(arr)
        roll = rng.random()
        if roll < empty_rate / 2:
            dep_text = arr_text = ""  # cancelled
        elif roll < empty_rate:
            arr_text = ""  # diverted
        yield f"{carrier},{origin},{dest},{dep_text},{arr_text}"


def write_flights(out_dir: Path, date: dt.date, lines: list[str], name: str = "flights.csv") -> Path:
    path = out_dir / "airline" / "daily_flights" / f"date={date.isoformat()}" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([FLIGHTS_HEADER, *lines]) + "\n")
    return path


def generate(
    out_dir: Path,
    days: int = 3,
    rows_per_day: int = 200,
    seed: int = 3,
    start: dt.date = dt.date(2024, 1, 1),
    airports_csv: Path | None = None,
    unknown_rate: float = 0.01,
    empty_rate: float = 0.03,
) -> list[list[Path]]:
    """Write the airport file and ``days`` daily flight files; return the files of each day in order
    (day one carries the airport dimension)."""
    rng = random.Random(seed)
    airports = load_airports(airports_csv)
    ids = [a[0] for a in airports]
    arrivals = [[write_airports(out_dir, airports)]]
    for day in range(days):
        date = start + dt.timedelta(days=day)
        lines = list(flight_lines(rng, ids, rows_per_day, unknown_rate, empty_rate))
        path = write_flights(out_dir, date, lines)
        if day == 0:
            arrivals[0].append(path)
        else:
            arrivals.append([path])
    return arrivals
