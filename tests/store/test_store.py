"""The store contract, checked the same way on SQLite and PostgreSQL.

Leases are made to lapse by taking them with a negative length ("expired a second ago"), so no
test sleeps. Races are real: concurrent calls through `asyncio.gather`, on one store instance
and on two instances sharing one database (two connections, as two replicas would).
"""

from __future__ import annotations

import asyncio
import time

import pytest

from core.port import Action, Attachment, Incoming, ThreadKey
from core.store import Store, TenantRow, TurnStatus
from core.store.base import RenderState
from core.store.dialect import PostgresDatabase
from core.store.schema import MIGRATIONS
from core.store.store import open_database
from tests.pg import PostgresServer
from tests.store.conftest import Backend

KEY = ThreadKey("slack", "T1", "C1", "1700000000.000100")
OTHER = ThreadKey("discord", "G1", "D1", "42")
LAPSED = -1.0  # a lease that ran out a second ago
LEASE = 60.0


async def add_render(store: Store, render_id: str, owner: str = "a", lease: float = LEASE) -> int:
    job = await store.add_render(
        KEY,
        render_id,
        owner=owner,
        lease_seconds=lease,
        deadline_at=time.time() + 600,
        message_id=None,
        language="en",
    )
    return job.id


# -- opening and migrations -----------------------------------------------------------------


async def test_migrations_are_idempotent(backend: Backend) -> None:
    first = await backend.open()
    await first.put_tenant(TenantRow("slack", "T1", "client"))
    await first.close()

    again = await backend.open()
    assert await again.get_tenant("slack", "T1") == TenantRow("slack", "T1", "client")
    assert await backend.schema_version() == len(MIGRATIONS)


async def test_a_database_from_schema_1_catches_up(backend: Backend) -> None:
    """A file made by a release before the last migration opens, keeps its rows and migrates."""
    db = await open_database(backend.url)
    async with db.transaction() as tx:
        await db.lock_schema(tx)
        for statement in MIGRATIONS[0]:
            await tx.execute(statement.format(serial=db.dialect.serial))
        await db.record_schema(tx, 1)
        await tx.execute(
            """INSERT INTO renders (platform, tenant, channel, thread, render_id, status,
                 next_poll_at, deadline_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            *(KEY.platform, KEY.tenant, KEY.channel, KEY.thread),
            "render-old",
            "ready",
            0.0,
            0.0,
            0.0,
        )
    await db.close()

    store = await backend.open()
    assert await backend.schema_version() == len(MIGRATIONS)
    (job,) = await store.active_renders(KEY)
    assert (job.render_id, job.status, job.draft_hash) == ("render-old", RenderState.READY, None)


async def test_replicas_starting_together_migrate_once(backend: Backend) -> None:
    stores = await asyncio.gather(*(backend.open() for _ in range(4)))
    assert all([await s.ping() for s in stores])
    assert await backend.schema_version() == len(MIGRATIONS)


async def test_ping(backend: Backend) -> None:
    store = await backend.open()
    assert await store.ping() is True
    await store.close()
    assert await store.ping() is False


# -- tenants --------------------------------------------------------------------------------


async def test_tenant_round_trip(store: Store) -> None:
    assert await store.get_tenant("slack", "T1") is None
    row = TenantRow("slack", "T1", "client-1", "tok-1", "U1", "2030-01-01T00:00:00Z")
    await store.put_tenant(row)
    assert await store.get_tenant("slack", "T1") == row
    assert await store.get_tenant("discord", "T1") is None

    replaced = TenantRow("slack", "T1", "client-2")  # an upsert: every field replaced
    await store.put_tenant(replaced)
    assert await store.get_tenant("slack", "T1") == replaced


async def test_create_tenant_first_writer_wins(store: Store) -> None:
    rows = [TenantRow("slack", "T9", f"client-{i}") for i in range(10)]
    winners = await asyncio.gather(*(store.create_tenant(row) for row in rows))
    assert len({w.client_id for w in winners}) == 1
    assert await store.get_tenant("slack", "T9") == winners[0]


async def test_taking_a_thread_interrupts_only_that_threads_running_turns(store: Store) -> None:
    a, b = ThreadKey("slack", "T", "C", "a"), ThreadKey("slack", "T", "C", "b")
    first = await store.enqueue_turn(a, Incoming("one"))
    second = await store.enqueue_turn(a, Incoming("two"))
    other = await store.enqueue_turn(b, Incoming("three"))
    assert first and second and other
    assert await store.start_turn(first) and await store.start_turn(other)
    stale = await store.take_thread(a, "worker", LEASE)
    assert stale is not None and [t.id for t in stale] == [first]
    assert await store.take_thread(a, "worker", LEASE) == []
    nxt = await store.next_turn(a)
    assert nxt is not None and nxt.id == second
    elsewhere = await store.take_thread(b, "worker", LEASE)
    assert elsewhere is not None and [t.id for t in elsewhere] == [other]


async def test_token_is_encrypted_at_rest_with_a_secret_key(backend: Backend) -> None:
    store = await backend.open(secret_key="correct horse")
    await store.put_tenant(TenantRow("slack", "T1", "client", "xoxb-secret-token", "U1"))

    raw = await backend.scalar("SELECT token FROM tenants")
    assert "xoxb-secret-token" not in raw
    assert raw.startswith("enc1:")
    tenant = await store.get_tenant("slack", "T1")
    assert tenant is not None and tenant.token == "xoxb-secret-token"

    wrong = await backend.open(secret_key="battery staple")
    with pytest.raises(ValueError, match="does not match JUPITER_SECRET_KEY"):
        await wrong.get_tenant("slack", "T1")
    keyless = await backend.open()
    with pytest.raises(ValueError, match="set JUPITER_SECRET_KEY"):
        await keyless.get_tenant("slack", "T1")


async def test_tokens_written_before_the_key_was_set_still_read(backend: Backend) -> None:
    plain = await backend.open()
    await plain.put_tenant(TenantRow("slack", "T1", "client", "old-token"))
    keyed = await backend.open(secret_key="new key")
    tenant = await keyed.get_tenant("slack", "T1")
    assert tenant is not None and tenant.token == "old-token"


# -- threads --------------------------------------------------------------------------------


async def test_thread_sessions_and_drafts(store: Store) -> None:
    assert await store.get_thread(KEY) is None
    await store.put_draft(KEY, '{"orphan": true}')  # no thread yet: nothing to attach it to
    assert await store.get_thread(KEY) is None

    before = time.time()
    await store.put_session(KEY, "sess-1", "en")
    thread = await store.get_thread(KEY)
    assert thread is not None
    assert (thread.key, thread.session_id, thread.language, thread.draft_json) == (
        KEY,
        "sess-1",
        "en",
        None,
    )
    assert before <= thread.created_at <= thread.last_active

    await store.put_draft(KEY, '{"scenes": 3}')
    thread = await store.get_thread(KEY)
    assert thread is not None and thread.draft_json == '{"scenes": 3}'

    await store.put_session(KEY, "sess-2", "ja")  # a new session drops the old draft
    renewed = await store.get_thread(KEY)
    assert renewed is not None
    assert (renewed.session_id, renewed.language, renewed.draft_json) == ("sess-2", "ja", None)
    assert renewed.created_at == thread.created_at
    assert renewed.last_active >= thread.last_active

    await store.put_draft(KEY, '{"scenes": 4}')
    await store.forget_session(KEY)  # the backend lost it: the next message starts a new one
    cleared = await store.get_thread(KEY)
    assert cleared is not None and cleared.session_id is None
    assert (cleared.language, cleared.draft_json) == ("ja", None)
    assert await store.get_thread(OTHER) is None


async def test_claim_thread_is_exclusive_until_released(store: Store) -> None:
    assert await store.claim_thread(KEY, "a", LEASE) is True
    assert await store.claim_thread(KEY, "b", LEASE) is False
    assert await store.claim_thread(KEY, "a", LEASE) is True  # renewing one's own lease
    assert await store.claim_thread(OTHER, "b", LEASE) is True  # leases are per thread

    await store.release_thread(KEY, "b")  # not b's to release
    assert await store.claim_thread(KEY, "b", LEASE) is False
    await store.release_thread(KEY, "a")
    assert await store.claim_thread(KEY, "b", LEASE) is True
    assert await store.claim_thread(KEY, "a", LEASE) is False


async def test_claim_thread_taken_over_after_the_lease_lapses(store: Store) -> None:
    assert await store.claim_thread(KEY, "a", LAPSED) is True
    assert await store.claim_thread(KEY, "b", LEASE) is True
    assert await store.claim_thread(KEY, "a", LEASE) is False


async def test_claim_thread_race_has_one_winner(backend: Backend) -> None:
    one, two = await backend.open(), await backend.open()
    results = await asyncio.gather(
        *(s.claim_thread(KEY, f"owner-{i}", LEASE) for i, s in enumerate([one, two] * 10))
    )
    assert results.count(True) == 1


# -- turns ----------------------------------------------------------------------------------


async def test_enqueue_keeps_order_and_every_field(store: Store) -> None:
    files = (Attachment("a.png", 123, "https://files.example/a", "image/png"),)
    first = await store.enqueue_turn(
        KEY, Incoming("make a video", files, "U1", "fr", "ev-1", Action.EXPORT)
    )
    second = await store.enqueue_turn(KEY, Incoming("second", user="U2"))
    assert first is not None and second is not None and first < second
    assert await store.queued_count(KEY) == 2
    assert await store.get_thread(KEY) is not None  # queuing a turn creates its thread

    turn = await store.next_turn(KEY)
    assert turn is not None
    assert (turn.id, turn.key, turn.status, turn.error) == (first, KEY, TurnStatus.QUEUED, None)
    assert turn.incoming == Incoming("make a video", files, "U1", "fr", None, Action.EXPORT)
    assert turn.created_at <= time.time()
    assert await store.next_turn(OTHER) is None


async def test_redelivered_event_is_queued_once(store: Store) -> None:
    assert await store.enqueue_turn(KEY, Incoming("hi", event_id="ev-1")) is not None
    assert await store.enqueue_turn(KEY, Incoming("hi", event_id="ev-1")) is None
    assert await store.enqueue_turn(OTHER, Incoming("hi", event_id="ev-1")) is None
    for _ in range(2):  # no delivery id, or an empty one: nothing to deduplicate on
        assert await store.enqueue_turn(KEY, Incoming("no id")) is not None
        assert await store.enqueue_turn(KEY, Incoming("empty id", event_id="")) is not None
    assert await store.queued_count(KEY) == 5


async def test_concurrent_redeliveries_queue_one_turn(backend: Backend) -> None:
    one, two = await backend.open(), await backend.open()
    ids = await asyncio.gather(
        *(s.enqueue_turn(KEY, Incoming("hi", event_id="ev-1")) for s in [one, two] * 10)
    )
    assert len([i for i in ids if i is not None]) == 1
    assert await one.queued_count(KEY) == 1


async def test_first_seen(store: Store) -> None:
    assert await store.first_seen("ev-1") is True
    assert await store.first_seen("ev-1") is False
    assert await store.first_seen("ev-2") is True


async def test_turn_lifecycle(store: Store) -> None:
    first = await store.enqueue_turn(KEY, Incoming("one"))
    second = await store.enqueue_turn(KEY, Incoming("two"))
    third = await store.enqueue_turn(KEY, Incoming("three"))
    await store.enqueue_turn(OTHER, Incoming("elsewhere"))
    assert first is not None and second is not None and third is not None
    assert set(await store.threads_with_queued_turns()) == {KEY, OTHER}
    assert await store.waiting_count(KEY) == 2  # the first is the next to start: it does not wait

    assert await store.start_turn(first) is True
    assert await store.start_turn(first) is False  # only once
    turn = await store.next_turn(KEY)
    assert turn is not None and turn.id == second
    assert await store.queued_count(KEY) == 2
    assert await store.waiting_count(KEY) == 2  # both behind the running one
    assert await store.waiting_count(OTHER) == 0

    assert [await store.turns_ahead(KEY, t) for t in (first, second, third)] == [0, 1, 2]
    await store.finish_turn(first, TurnStatus.FAILED, "backend said no")
    assert await store.turns_ahead(KEY, third) == 1  # finished turns are not ahead
    assert await store.start_turn(first) is False
    assert await store.cancel_queued(KEY) == 2
    assert await store.cancel_queued(KEY) == 0
    assert await store.start_turn(second) is False  # cancelled turns never start
    assert await store.queued_count(KEY) == 0
    assert await store.next_turn(KEY) is None
    assert await store.threads_with_queued_turns() == [OTHER]


async def test_start_turn_race_has_one_winner(backend: Backend) -> None:
    one, two = await backend.open(), await backend.open()
    turn_id = await one.enqueue_turn(KEY, Incoming("once"))
    assert turn_id is not None
    results = await asyncio.gather(*(s.start_turn(turn_id) for s in [one, two] * 10))
    assert results.count(True) == 1


async def test_start_next_turn_takes_the_oldest_queued_one_once(store: Store) -> None:
    first = await store.enqueue_turn(KEY, Incoming("one"))
    second = await store.enqueue_turn(KEY, Incoming("two"))
    await store.enqueue_turn(OTHER, Incoming("elsewhere"))
    taken = await store.start_next_turn(KEY)
    assert taken is not None and (taken.id, taken.text) == (first, "one")
    assert taken.status is TurnStatus.RUNNING
    assert await store.start_turn(taken.id) is False  # running already
    again = await store.start_next_turn(KEY)
    assert again is not None and again.id == second
    assert await store.start_next_turn(KEY) is None and await store.queued_count(KEY) == 0
    await store.enqueue_turn(KEY, Incoming("three"))
    assert await store.cancel_queued(KEY) == 1
    assert await store.start_next_turn(KEY) is None  # cancelled turns never start


async def test_start_next_turn_race_has_one_winner_per_turn(backend: Backend) -> None:
    # Ten racers for three turns: while a turn is left, no racer comes back empty-handed
    # (it passes over the one another is taking), and none is taken twice. Rounds, because
    # a lost race is a matter of timing.
    one, two = await backend.open(), await backend.open()
    for round_ in range(20):
        ids = [await one.enqueue_turn(KEY, Incoming(f"turn {round_}.{i}")) for i in range(3)]
        taken = await asyncio.gather(*(s.start_next_turn(KEY) for s in [one, two] * 5))
        assert sorted(t.id for t in taken if t is not None) == ids  # each once, none twice


async def test_take_thread_claims_and_interrupts_what_a_dead_process_left_at_once(
    store: Store,
) -> None:
    left = await store.enqueue_turn(KEY, Incoming("running when it died"))
    waiting = await store.enqueue_turn(KEY, Incoming("queued"))
    assert left and waiting and await store.start_turn(left)
    assert await store.claim_thread(KEY, "dead", LAPSED)
    stale = await store.take_thread(KEY, "next", LEASE)
    assert stale is not None and [t.id for t in stale] == [left]
    assert await store.take_thread(KEY, "next", LEASE) == []  # marked: not found again
    assert await store.take_thread(KEY, "someone else", LEASE) is None  # the lease is held
    assert await store.claim_thread(KEY, "someone else", LEASE) is False
    turn = await store.start_next_turn(KEY)
    assert turn is not None and turn.id == waiting


async def test_interrupt_stale_turns_only_where_the_lease_lapsed(store: Store) -> None:
    dead = ThreadKey("slack", "T1", "C1", "dead")
    alive = ThreadKey("slack", "T1", "C1", "alive")
    elsewhere = ThreadKey("discord", "G1", "D1", "dead")
    running: dict[ThreadKey, int] = {}
    for key, lease in ((dead, LAPSED), (alive, LEASE), (elsewhere, LAPSED)):
        turn_id = await store.enqueue_turn(key, Incoming(f"running in {key.thread}"))
        assert turn_id is not None and await store.start_turn(turn_id)
        assert await store.claim_thread(key, "worker", lease)
        running[key] = turn_id
    waiting = await store.enqueue_turn(dead, Incoming("still queued"))

    stale = await store.interrupt_stale_turns(time.time(), platform="slack")
    assert [(t.id, t.key, t.text) for t in stale] == [(running[dead], dead, "running in dead")]
    stale = await store.interrupt_stale_turns(time.time())
    assert [t.id for t in stale] == [running[elsewhere]]
    assert await store.interrupt_stale_turns(time.time()) == []  # marked: not found again
    later = await store.interrupt_stale_turns(time.time() + 2 * LEASE)  # now alive's lapsed too
    assert [t.id for t in later] == [running[alive]]

    next_up = await store.next_turn(dead)  # the queued turn behind it is untouched
    assert next_up is not None and next_up.id == waiting
    assert await store.start_turn(running[dead]) is False


async def test_interrupt_stale_turns_race_reports_each_turn_once(backend: Backend) -> None:
    one, two = await backend.open(), await backend.open()
    for n in range(10):
        key = ThreadKey("slack", "T1", "C1", f"t{n}")
        turn_id = await one.enqueue_turn(key, Incoming("hi"))
        assert turn_id is not None and await one.start_turn(turn_id)
        assert await one.claim_thread(key, "dead-worker", LAPSED)
    now = time.time()
    found = await asyncio.gather(*(s.interrupt_stale_turns(now) for s in [one, two] * 3))
    ids = [t.id for batch in found for t in batch]
    assert len(ids) == len(set(ids)) == 10


# -- renders --------------------------------------------------------------------------------


async def test_render_lifecycle(backend: Backend) -> None:
    a, b = await backend.open(), await backend.open()
    before = time.time()
    job = await a.add_render(
        KEY,
        "render-1",
        owner="a",
        lease_seconds=LEASE,
        deadline_at=before + 900,
        message_id="msg-1",
        language="de",
    )
    assert (job.key, job.render_id, job.status, job.progress) == (
        KEY,
        "render-1",
        RenderState.RENDERING,
        0.0,
    )
    assert (job.output_url, job.error, job.size, job.posted_at) == (None, None, None, None)
    assert (job.message_id, job.language, job.lease_owner) == ("msg-1", "de", "a")
    assert job.deadline_at == before + 900
    assert before <= job.created_at <= job.next_poll_at <= time.time()
    assert job.lease_until >= before + LEASE
    assert await b.get_render(job.id) == job
    assert await b.get_render(job.id + 1000) is None
    assert await a.active_renders(KEY) == [job]

    assert await b.claim_renders("b", LEASE) == []  # a's lease holds
    assert await a.record_progress(job.id, "a", LEASE, 40, next_poll_at=before + 5)
    assert await b.record_progress(job.id, "b", LEASE, 99) is False

    assert await a.renew_render(job.id, "a", LAPSED)  # a dies: its lease runs out
    claimed = await b.claim_renders("b", LEASE)
    assert [(j.id, j.lease_owner, j.progress) for j in claimed] == [(job.id, "b", 40.0)]
    assert claimed[0].next_poll_at == before + 5
    assert await a.record_progress(job.id, "a", LEASE, 50) is False
    assert await a.claim_renders("a", LEASE) == []

    assert await b.mark_posted(job.id) is False  # still rendering: nothing to post
    assert await b.mark_ready(
        job.id,
        "b",
        LEASE,
        output_url="https://cdn.example/v.mp4",
        size=12_345_678_901,
    )
    ready = await a.get_render(job.id)
    assert ready is not None
    assert (ready.status, ready.progress, ready.output_url, ready.size) == (
        RenderState.READY,
        100.0,
        "https://cdn.example/v.mp4",
        12_345_678_901,
    )
    assert ready.error is None

    posted = await asyncio.gather(*(s.mark_posted(job.id) for s in [a, b] * 10))
    assert posted.count(True) == 1
    final = await a.get_render(job.id)
    assert final is not None and final.status == RenderState.POSTED
    assert final.posted_at is not None and final.posted_at >= before
    assert await a.mark_posted(job.id) is False
    assert await a.active_renders(KEY) == []
    assert await b.claim_renders("b", LAPSED) == []  # finished jobs are never claimed again
    assert await a.count_renders() == {"posted": 1}


async def test_finish_render_records_failure(store: Store) -> None:
    job_id = await add_render(store, "render-1")
    assert await store.finish_render(job_id, "a", RenderState.FAILED, error="out of credits")
    job = await store.get_render(job_id)
    assert job is not None and (job.status, job.error) == (RenderState.FAILED, "out of credits")
    assert await store.active_renders(KEY) == []
    assert await store.claim_renders("b", LEASE) == []


async def test_claim_renders_in_order_up_to_the_limit(store: Store) -> None:
    ids = [await add_render(store, f"render-{n}", owner="dead", lease=LAPSED) for n in range(5)]
    first = await store.claim_renders("b", LEASE, limit=3)
    assert [j.id for j in first] == ids[:3]
    assert all(j.lease_owner == "b" and j.lease_until > time.time() for j in first)
    assert [j.id for j in await store.claim_renders("c", LEASE, limit=3)] == ids[3:]
    assert await store.claim_renders("d", LEASE) == []
    assert [j.id for j in await store.active_renders(KEY)] == ids
    assert await store.active_renders(OTHER) == []


async def test_count_renders(store: Store) -> None:
    assert await store.count_renders() == {}
    ids = [await add_render(store, f"render-{n}") for n in range(5)]
    for job_id in ids[:2]:
        assert await store.mark_ready(job_id, "a", LEASE, output_url="https://v/1.mp4", size=None)
    assert await store.finish_render(ids[2], "a", RenderState.FAILED)
    assert await store.finish_render(ids[3], "a", RenderState.CANCELLED)
    assert await store.mark_posted(ids[0])
    assert await store.count_renders() == {
        "posted": 1,
        "ready": 1,
        "failed": 1,
        "cancelled": 1,
        "rendering": 1,
    }


async def test_two_stores_race_for_100_render_jobs(backend: Backend) -> None:
    one, two = await backend.open(), await backend.open()
    for n in range(100):
        await add_render(one, f"render-{n}", owner="dead", lease=LAPSED)

    async def drain(store: Store, owner: str) -> list[tuple[int, str]]:
        claimed: list[tuple[int, str]] = []
        while jobs := await store.claim_renders(owner, LEASE, limit=7):
            claimed += [(j.id, owner) for j in jobs]
        return claimed

    batches = await asyncio.gather(
        *(
            drain(store, f"{name}-{n}")
            for name, store in [("one", one), ("two", two)]
            for n in range(4)
        )
    )
    claims = [claim for batch in batches for claim in batch]
    assert len(claims) == 100
    assert len({job_id for job_id, _ in claims}) == 100
    assert {owner.split("-")[0] for _, owner in claims} <= {"one", "two"}
    for job_id, owner in claims:
        job = await two.get_render(job_id)
        assert job is not None and job.lease_owner == owner


# -- concurrency ------------------------------------------------------------------------------


async def test_fifty_concurrent_writers(store: Store) -> None:
    keys = [ThreadKey("slack", "T1", "C1", f"t{n % 5}") for n in range(50)]
    ids = await asyncio.gather(
        *(
            store.enqueue_turn(key, Incoming(f"m{n}", event_id=f"ev-{n}"))
            for n, key in enumerate(keys)
        )
    )
    assert len({i for i in ids if i is not None}) == 50
    assert sum([await store.queued_count(k) for k in set(keys)]) == 50


async def test_two_instances_write_concurrently(backend: Backend) -> None:
    one, two = await backend.open(), await backend.open()

    async def write(store: Store, n: int) -> None:
        key = ThreadKey("slack", "T1", "C1", f"t{n % 3}")
        assert await store.enqueue_turn(key, Incoming(f"m{n}", event_id=f"ev-{n}")) is not None
        assert await store.first_seen(f"other-{n}")
        await store.put_session(key, f"sess-{n}", "en")
        await store.claim_thread(key, f"w{n}", LEASE)

    await asyncio.gather(*(write(s, n) for n, s in enumerate([one, two] * 25)))
    keys = [ThreadKey("slack", "T1", "C1", f"t{n}") for n in range(3)]
    assert [await two.queued_count(k) for k in keys] == [17, 17, 16]


async def test_a_postgres_statement_is_one_round_trip_and_leaves_the_connection_clean(
    postgres_server: PostgresServer,
) -> None:
    """Nothing but the statement goes over the connection: no reset query when it returns to
    the pool (asyncpg's default sends one per release). A transaction that raised is still
    rolled back before the connection serves the next statement."""
    db = await PostgresDatabase.open(await postgres_server.create_database())
    try:
        sent: list[str] = []
        async with db._pool.acquire() as conn:  # the pool's one connection (POOL_MIN_SIZE)
            conn.add_query_logger(lambda logged: sent.append(logged.query))
        await db.execute("CREATE TABLE t (x INTEGER)")
        with pytest.raises(RuntimeError):
            async with db.transaction() as tx:
                await tx.execute("INSERT INTO t VALUES (?)", 1)
                raise RuntimeError("the turn failed mid-transaction")
        sent.clear()
        row = await db.fetchrow("SELECT COUNT(*) AS n FROM t")
        assert row is not None and row["n"] == 0
        assert sent == ["SELECT COUNT(*) AS n FROM t"]
    finally:
        await db.close()


async def test_a_users_defaults_apply_over_the_workspaces_field_by_field(store: Store) -> None:
    from core.store.base import Defaults
    from core.store.preferences import WORKSPACE

    assert await store.effective_defaults("slack", "T1", "U1") == Defaults()
    await store.put_defaults("slack", "T1", WORKSPACE, Defaults("9:16", None, "anime", None))
    assert await store.effective_defaults("slack", "T1", "U1") == Defaults("9:16", None, "anime")
    await store.put_defaults("slack", "T1", "U1", Defaults(None, 10, "cinematic", "zh"))
    mine = Defaults("9:16", 10, "cinematic", "zh")  # the workspace's aspect, the user's rest
    assert await store.effective_defaults("slack", "T1", "U1") == mine
    assert await store.effective_defaults("slack", "T1", "U2") == Defaults("9:16", None, "anime")
    assert await store.effective_defaults("slack", "T2", "U1") == Defaults()
    assert await store.effective_defaults("slack", "T1", WORKSPACE) == Defaults(
        "9:16", None, "anime"
    )


async def test_versions_number_themselves_per_thread(store: Store) -> None:
    made = [await store.add_version(KEY, "s1", f'{{"n": {n}}}', f"v{n}", "") for n in (1, 2, 3)]
    assert [v.number for v in made] == [1, 2, 3]
    assert (await store.add_version(OTHER, "s9", "{}", "elsewhere", "")).number == 1
    kept = await store.get_version(KEY, 2)
    assert kept is not None and kept.draft_json == '{"n": 2}' and kept.message == "v2"
    assert [v.number for v in await store.list_versions(KEY)] == [1, 2, 3]
