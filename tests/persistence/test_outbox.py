"""The outbox over a state file that refuses writes or holds rows that no longer decode."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from pathlib import Path

import httpx
import orjson
import pytest

from driftwarden.alerts.outbox import Outbox
from driftwarden.alerts.receivers.base import Endpoint, Message
from driftwarden.params import OutboxParams
from driftwarden.persistence.database import Database
from driftwarden.persistence.outbox_store import OutboxStore
from tests.persistence.faults import refused_writes

URL = "http://pd.test/v2/enqueue"


class Receiver:
    """A receiver behind httpx.MockTransport: records bodies, answers 202."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(request.content)
        return httpx.Response(202)


def make_outbox(database: Database, receiver: Receiver, outcomes: list[tuple[str, str]]) -> Outbox:
    return Outbox(
        OutboxStore(database),
        OutboxParams(initial_backoff=0.01, max_backoff=0.02),
        endpoints={"pd": Endpoint(URL)},
        on_result=lambda r, o: outcomes.append((r, o)),
        transport=httpx.MockTransport(receiver),
    )


def stored(database: Database) -> list[bytes]:
    return [body for (body,) in database.read("SELECT body FROM outbox ORDER BY id")]


def test_rows_that_no_longer_decode_are_skipped_given_up_and_do_not_block_their_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = Database(tmp_path / "state.db")
    store = OutboxStore(database)
    now = time.time()
    store.enqueue([Message("pd", "k", b"1")], now=now)
    db = sqlite3.connect(database.path, isolation_level=None)
    columns = "receiver, ordering_key, headers, body, created_at, next_attempt_at"
    db.execute(f"INSERT INTO outbox ({columns}) VALUES ('pd', 'k', ?, ?, ?, ?)", (b"{not json", b"2", now, now))
    db.execute(f"INSERT INTO outbox ({columns}) VALUES ('pd', 'k', ?, ?, ?, ?)", (orjson.dumps([1]), b"3", now, now))
    db.execute(f"INSERT INTO outbox ({columns}) VALUES ('pd', 'k', '{{}}', 'text body', ?, ?)", (now, now))
    db.close()
    store.enqueue([Message("pd", "k", b"5")], now=now)
    assert [m.body for m in store.oldest()] == [b"1", b"5"]
    assert [m.body for m in store.oldest()] == [b"1", b"5"]  # counted once: given up (deleted)
    assert database.skipped_rows == {"outbox": 3} and stored(database) == [b"1", b"5"]
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(lines) == 3 and all("skipped outbox" in line and "(table outbox)" in line for line in lines)
    assert "'id 2'" in lines[0] and "JSONDecodeError" in lines[0]
    assert "'id 3'" in lines[1] and "headers are not a JSON object" in lines[1]
    assert "'id 4'" in lines[2] and "body stored as str" in lines[2]

    receiver, outcomes = Receiver(), []
    outbox = make_outbox(database, receiver, outcomes)

    async def deliver() -> None:
        while await outbox.deliver_due():
            pass
        await outbox.close()

    asyncio.run(deliver())
    assert receiver.bodies == [b"1", b"5"] and outbox.pending() == {}
    database.close()


def test_messages_wait_in_memory_while_the_file_refuses_writes(tmp_path: Path) -> None:
    database = Database(tmp_path / "state.db")
    receiver, outcomes = Receiver(), []
    outbox = make_outbox(database, receiver, outcomes)

    async def scenario() -> None:
        with refused_writes():
            assert outbox.enqueue([Message("pd", "k", b"1"), Message("pd", "k", b"2")]) == 2
            assert outbox.enqueue([Message("pd", "k", b"3")]) == 1  # after the others, in order
            assert outbox.pending() == {"pd": 3} and not database.writable
            assert await outbox.deliver_due() == 0  # not stored yet: not sent
            assert stored(database) == [] and receiver.bodies == []
        while await outbox.deliver_due():  # stored at the next pass, then sent, in order
            pass
        await outbox.close()

    asyncio.run(scenario())
    assert receiver.bodies == [b"1", b"2", b"3"] and outcomes == [("pd", "ok")] * 3
    assert database.writable and outbox.pending() == {} and stored(database) == []
    database.close()


def test_an_outcome_the_file_refuses_is_kept_and_saved_later(tmp_path: Path) -> None:
    database = Database(tmp_path / "state.db")
    receiver, outcomes = Receiver(), []
    outbox = make_outbox(database, receiver, outcomes)
    outbox.enqueue([Message("pd", "k", b"1"), Message("pd", "k", b"2")])

    async def scenario() -> None:
        with refused_writes():
            assert await outbox.deliver_due() == 1  # sent; its deletion refused
            assert await outbox.deliver_due() == 1  # not sent again: the next of its key goes
            assert await outbox.deliver_due() == 0
            assert stored(database) == [b"1", b"2"]
        await outbox.deliver_due()  # the deletions are saved now
        await outbox.close()

    asyncio.run(scenario())
    assert receiver.bodies == [b"1", b"2"] and outcomes == [("pd", "ok")] * 2
    assert stored(database) == [] and database.write_failures["outbox_delivered"] >= 2
    database.close()
