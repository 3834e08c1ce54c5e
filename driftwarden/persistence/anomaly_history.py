"""The anomaly detector's history in the state file (`anomaly_series`, `anomaly_history`; schema migration 5).

One row per series (signal and its labels as canonical JSON) and one per series and slot: the mean of
the values observed in that slot, kept as value and count so that a slot written twice (a checkpoint,
then the slot's end) folds in with one upsert. Bounded: the detector admits at most
`anomaly.max_series` series, and each new slot prunes the slots older than `seasons` seasons and the
series unseen for as long, so the table holds at most max_series x (seasons + 1) x slots per season
rows. It survives restarts: the detector writes each slot when it ends and at every checkpoint, one
transaction each (a kill -9 loses at most the values since).

>>> import tempfile
>>> from pathlib import Path
>>> db = Database(Path(tempfile.mkdtemp()) / "state.db")
>>> history = AnomalyHistory(db)
>>> ids = history.add_series([("request_rate", (("service", "api"),))], now=0.0)
>>> history.record(7, [(1, 10.0, 1)], now=0.0); history.record(7, [(1, 20.0, 3)], now=1.0)
>>> history.load([7]), AnomalyHistory(db).series(10) == ids
([(1, 7, 17.5)], True)
>>> db.close()
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import orjson

from driftwarden.detectors.seasonal import SeriesKey
from driftwarden.persistence.database import Database

__all__ = ["AnomalyHistory"]


class AnomalyHistory:
    """`detectors.seasonal.History` over the state file; writes go through `Database.write` (counted, logged)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def series(self, limit: int) -> dict[SeriesKey, int]:
        rows = self.database.read(
            "SELECT id, signal, labels FROM anomaly_series ORDER BY last_seen DESC, id LIMIT ?", (limit,)
        )
        return {(signal, _labels(labels)): series for series, signal, labels in rows}

    def add_series(self, keys: Sequence[SeriesKey], now: float) -> dict[SeriesKey, int]:
        def add(db: sqlite3.Connection) -> dict[SeriesKey, int]:
            ids = {}
            for key in keys:
                signal, labels = key
                text = _text(labels)
                db.execute(
                    "INSERT INTO anomaly_series (signal, labels, last_seen) VALUES (?, ?, ?) "
                    "ON CONFLICT (signal, labels) DO UPDATE SET last_seen = excluded.last_seen",
                    (signal, text, now),
                )
                ids[key] = db.execute(
                    "SELECT id FROM anomaly_series WHERE signal = ? AND labels = ?", (signal, text)
                ).fetchone()[0]
            return ids

        return self.database.write("anomaly_series", add)

    def record(self, slot: int, values: Sequence[tuple[int, float, int]], now: float) -> None:
        if not values:
            return

        def fold(db: sqlite3.Connection) -> None:
            db.executemany(
                "INSERT INTO anomaly_history (slot, series, value, count) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (slot, series) DO UPDATE SET "
                "value = (value * count + excluded.value * excluded.count) / (count + excluded.count), "
                "count = count + excluded.count",
                [(slot, series, value, count) for series, value, count in values],
            )
            db.executemany(
                "UPDATE anomaly_series SET last_seen = ? WHERE id = ?", [(now, series) for series, _, _ in values]
            )

        self.database.write("anomaly_history", fold)

    def load(self, slots: Sequence[int]) -> list[tuple[int, int, float]]:
        if not slots:
            return []
        marks = ", ".join("?" * len(slots))
        rows = self.database.read(
            f"SELECT series, slot, value FROM anomaly_history WHERE slot IN ({marks})",
            tuple(slots),
        )
        return [(int(series), int(slot), float(value)) for series, slot, value in rows]

    def prune(self, before_slot: int, seen_before: float) -> list[int]:
        def prune(db: sqlite3.Connection) -> list[int]:
            db.execute("DELETE FROM anomaly_history WHERE slot < ?", (before_slot,))
            gone = [row[0] for row in db.execute("SELECT id FROM anomaly_series WHERE last_seen < ?", (seen_before,))]
            if gone:
                db.execute(  # one scan of the table, however many series went
                    "DELETE FROM anomaly_history WHERE series IN (SELECT id FROM anomaly_series WHERE last_seen < ?)",
                    (seen_before,),
                )
                db.execute("DELETE FROM anomaly_series WHERE last_seen < ?", (seen_before,))
            return gone

        return self.database.write("anomaly_prune", prune)

    def rows(self) -> int:
        """Rows of history held (tests and the status page)."""
        return int(self.database.read("SELECT count(*) FROM anomaly_history")[0][0])


def _text(labels: tuple[tuple[str, str], ...]) -> str:
    return orjson.dumps(dict(labels), option=orjson.OPT_SORT_KEYS).decode()


def _labels(text: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(orjson.loads(text).items()))
