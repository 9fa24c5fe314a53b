"""The HTTP API in process (Litestar's AsyncTestClient) on SQLite and PostgreSQL: every endpoint and bad input."""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import make_settings, poll, running_worker, small_sandbox_options
from litestar import get
from litestar.testing import AsyncTestClient

from numbersearch import errors, jobs
from numbersearch.api import create_app, status_for
from numbersearch.models import SyncJob, utcnow
from numbersearch.resources import RESOURCES

API_TOKEN = "api-SECRET-token-7d2e"
SMALL_COUNTRIES = ("US", "CA", "GB", "DE", "FR", "CY", "SM")
DEADLINE = 30.0


@pytest.fixture
def sandbox_options(tmp_path: Path):
    """A small catalogue (seven countries, two of them beta) keeps every sync well under a second."""
    return small_sandbox_options(tmp_path, SMALL_COUNTRIES)


@pytest.fixture
def settings(database_url: str):
    """Credentials but no Twilio behind them: for tests that never sync (a closed loopback port)."""
    return make_settings("http://127.0.0.1:9", database_url)


@pytest.fixture
def live_settings(sandbox_server, database_url: str):
    return make_settings(sandbox_server.base_url, database_url)


@pytest.fixture
async def client(settings, engine) -> AsyncIterator[AsyncTestClient]:
    async with AsyncTestClient(create_app(settings, engine)) as client:
        yield client


@pytest.fixture
async def live(live_settings, engine) -> AsyncIterator[AsyncTestClient]:
    """A client whose syncs reach the loopback sandbox, run by a worker (the API itself never runs one)."""
    with running_worker(live_settings, engine):
        async with AsyncTestClient(create_app(live_settings, engine)) as client:
            yield client


async def poll_job(client: AsyncTestClient, job_id: str, until: tuple[str, ...] = ("completed", "failed")) -> dict:
    deadline = time.monotonic() + DEADLINE
    while True:
        response = await client.get(f"/api/v1/sync/{job_id}")
        assert response.status_code == 200, response.text
        job = response.json()
        if job["status"] in until:
            return job
        assert time.monotonic() < deadline, f"job still {job['status']} after {DEADLINE}s"
        await asyncio.sleep(0.02)


async def run_sync(client: AsyncTestClient, path: str) -> dict:
    response = await client.post(path)
    assert response.status_code == 202, response.text
    job = await poll_job(client, response.json()["job_id"])
    assert job["status"] == "completed", job
    return job


def assert_error(response: Any, status: int, *needles: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["status"] == status
    assert isinstance(body["error"], str) and body["error"]
    assert "Traceback" not in response.text and 'File "' not in response.text
    for needle in needles:
        assert needle in body["error"], body
    return body


# --- sync endpoints ---


SYNC_PATHS = [("/api/v1/sync", "number_types"), ("/api/v1/sync/regulations", "regulations")]


@pytest.mark.parametrize(("path", "sync_type"), SYNC_PATHS)
async def test_post_sync_accepts_and_the_job_completes(live: AsyncTestClient, path: str, sync_type: str) -> None:
    client = live
    response = await client.post(path)
    assert response.status_code == 202, response.text
    body = response.json()
    assert set(body) == {"job_id", "status"} and body["status"] == "accepted"
    assert str(uuid.UUID(body["job_id"])) == body["job_id"]
    assert response.headers["location"] == f"/api/v1/sync/{body['job_id']}"
    job = await poll_job(client, body["job_id"])
    assert job["status"] == "completed", job
    assert job["sync_type"] == sync_type
    assert job["countries_processed"] == job["countries_total"] == len(SMALL_COUNTRIES)
    assert job["countries_failed"] == 0 and job["failures"] == [] and job["error"] is None
    assert job["started_at"].endswith("Z") and job["completed_at"].endswith("Z")


async def test_second_post_while_running_is_409_with_the_running_job(live: AsyncTestClient, sandbox_server) -> None:
    client = live
    sandbox_server.app.options.latency_ms = 150  # keeps the first job running while we ask again
    first = (await client.post("/api/v1/sync/regulations")).json()["job_id"]
    conflict = await client.post("/api/v1/sync/regulations")
    body = assert_error(conflict, 409, first)
    assert body["job_id"] == first and body["sync_type"] == "regulations"
    # The other sync type has its own slot.
    other = await client.post("/api/v1/sync")
    assert other.status_code == 202, other.text
    sandbox_server.app.options.latency_ms = 0
    assert (await poll_job(client, first))["status"] == "completed"
    assert (await poll_job(client, other.json()["job_id"]))["status"] == "completed"
    again = await client.post("/api/v1/sync/regulations")
    assert again.status_code == 202, again.text
    await poll_job(client, again.json()["job_id"])


async def test_list_jobs_newest_first_with_limit(live: AsyncTestClient) -> None:
    client = live
    first = await run_sync(client, "/api/v1/sync")
    second = await run_sync(client, "/api/v1/sync/regulations")
    listed = (await client.get("/api/v1/sync")).json()["jobs"]
    assert [j["job_id"] for j in listed] == [second["job_id"], first["job_id"]]
    assert listed[0] == second
    one = (await client.get("/api/v1/sync", params={"limit": 1})).json()
    assert [j["job_id"] for j in one["jobs"]] == [second["job_id"]]
    assert len((await client.get("/api/v1/sync", params={"limit": 100})).json()["jobs"]) == 2


async def test_bad_limit_is_400_with_a_message(client: AsyncTestClient) -> None:
    for limit in ["0", "101", "-1", "abc", "1.5", "1e3"]:
        assert_error(await client.get("/api/v1/sync", params={"limit": limit}), 400, "limit")
    # An empty value is no value (design.md §5): the default applies.
    assert (await client.get("/api/v1/sync", params={"limit": ""})).status_code == 200


async def test_job_id_that_is_not_a_uuid_is_400_and_an_unknown_one_404(client: AsyncTestClient) -> None:
    for job_id in ["not-a-uuid", "123", "3f2b8c4e-9d1a-4e7b-8f6c", "%20"]:
        assert_error(await client.get(f"/api/v1/sync/{job_id}"), 400, "UUID")
    missing = str(uuid.uuid4())
    assert_error(await client.get(f"/api/v1/sync/{missing}"), 404, missing)


async def test_sync_without_credentials_is_500_naming_the_variable(engine, database_url: str) -> None:
    from numbersearch.config import get_settings

    async with AsyncTestClient(create_app(get_settings(database_url=database_url), engine)) as client:
        body = assert_error(await client.post("/api/v1/sync/regulations"), 500, "TWILIO_ACCOUNT_SID")
        assert (await client.get("/api/v1/sync")).json() == {"jobs": []}, body


# --- query endpoints ---


async def test_countries_filters_and_lookup(live: AsyncTestClient) -> None:
    client = live
    await run_sync(client, "/api/v1/sync")
    countries = (await client.get("/api/v1/countries")).json()["countries"]
    assert [c["country_code"] for c in countries] == sorted(SMALL_COUNTRIES)
    toll_free = {c["country_code"] for c in countries if c["toll_free"]}
    assert toll_free and toll_free != set(SMALL_COUNTRIES)
    for spelling in ("toll_free", "TollFree", "toll-free", "toll free"):
        found = (await client.get("/api/v1/countries", params={"number_type": spelling})).json()["countries"]
        assert {c["country_code"] for c in found} == toll_free, spelling
    beta = (await client.get("/api/v1/countries", params={"beta": "true"})).json()["countries"]
    assert {c["country_code"] for c in beta} == {c["country_code"] for c in countries if c["beta"]} != set()
    not_beta = (await client.get("/api/v1/countries", params={"beta": "false"})).json()["countries"]
    assert len(beta) + len(not_beta) == len(countries)
    us = (await client.get("/api/v1/countries/us")).json()
    assert us == next(c for c in countries if c["country_code"] == "US")
    assert us["last_updated"].endswith("Z") and "local" in us["number_types"]


async def test_regulations_filters_and_lookup(live: AsyncTestClient) -> None:
    client = live
    await run_sync(client, "/api/v1/sync/regulations")
    regulations = (await client.get("/api/v1/regulations")).json()["regulations"]
    assert regulations and {r["iso_country"] for r in regulations} <= set(SMALL_COUNTRIES)
    assert {r["end_user_type"] for r in regulations} == {"business"}
    german = (await client.get("/api/v1/regulations", params={"country": "de"})).json()["regulations"]
    assert german and all(r["iso_country"] == "DE" for r in german)
    assert len(german) == sum(r["iso_country"] == "DE" for r in regulations)
    toll_free = (await client.get("/api/v1/regulations", params={"number_type": "TollFree"})).json()["regulations"]
    assert toll_free and {r["number_type"] for r in toll_free} == {"toll-free"}
    one = regulations[0]
    fetched = (await client.get(f"/api/v1/regulations/{one['sid']}")).json()
    assert fetched == one and "end_user" in fetched["requirements"]


BAD_QUERIES = [
    ("/api/v1/countries", {"number_type": "pager"}, 400, "pager"),
    ("/api/v1/countries", {"beta": "maybe"}, 400, "beta"),
    ("/api/v1/countries/abc", {}, 400, "abc"),
    ("/api/v1/countries/ZZ", {}, 404, "ZZ"),
    ("/api/v1/regulations", {"country": "Germny"}, 400, "did you mean DE"),
    ("/api/v1/regulations", {"number_type": "fax"}, 400, "fax"),
    ("/api/v1/regulations/RN0000", {}, 404, "RN0000"),
    ("/api/v1/nothing-here", {}, 404, "/api/v1/nothing-here"),
    ("/no/such/route", {}, 404, "/no/such/route"),
]


async def test_query_bad_input(client: AsyncTestClient) -> None:
    for path, params, status, needle in BAD_QUERIES:
        assert_error(await client.get(path, params=params), status, needle)


async def test_search_without_a_catalogue_is_400_saying_to_sync_first(client: AsyncTestClient) -> None:
    assert_error(await client.get("/api/v1/numbers/search", params={"country": "US"}), 400, "sync number-types")


async def test_search_for_a_type_the_country_lacks_is_400_before_twilio_is_asked(
    live: AsyncTestClient, sandbox_server
) -> None:
    client = live
    await run_sync(client, "/api/v1/sync")
    countries = (await client.get("/api/v1/countries")).json()["countries"]
    lacking = next(c for c in countries if not c["toll_free"])
    asked = sandbox_server.app.counters.requests
    response = await client.get(
        "/api/v1/numbers/search", params={"country": lacking["country_code"], "number_type": "TollFree"}
    )
    assert_error(
        response, 400, f"{lacking['country']} ({lacking['country_code']}) offers no toll-free numbers on Twilio "
        "(catalogue synced "
    )
    assert sandbox_server.app.counters.requests == asked


async def test_wrong_method_is_405_json(client: AsyncTestClient) -> None:
    body = assert_error(await client.delete("/api/v1/sync"), 405, "DELETE")
    assert body["status"] == 405


# --- health, the database down ---


async def test_health_ok(client: AsyncTestClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "schema": "ok", "workers": 0}


async def test_database_down_is_503_and_the_app_still_starts(tmp_path: Path) -> None:
    from numbersearch.config import get_settings

    unreachable = get_settings(database_url=f"sqlite:///{tmp_path / 'missing' / 'x.db'}")
    async with AsyncTestClient(create_app(unreachable)) as client:
        health = await client.get("/health")
        assert health.status_code == 503
        # Never a path, user or host in /health: it is not behind the token guard.
        assert health.json() == {"status": "error", "database": "unavailable", "schema": "unknown", "workers": 0}
        assert_error(await client.get("/api/v1/sync"), 503, "missing")
        assert_error(await client.get("/api/v1/countries"), 503)


async def test_postgres_down_is_503_without_the_password(tmp_path: Path) -> None:
    from numbersearch.config import get_settings

    closed = get_settings(database_url="postgresql+psycopg://user:pw-SECRET@127.0.0.1:9/nothing")
    async with AsyncTestClient(create_app(closed)) as client:
        health = await client.get("/health")
        assert health.status_code == 503
        body = assert_error(await client.get("/api/v1/regulations"), 503)
        assert "pw-SECRET" not in health.text and "pw-SECRET" not in str(body)


# --- the one exception mapping ---

MAPPED = [
    (errors.InputError("bad value"), 400),
    (errors.NotFoundError("no such thing"), 404),
    (errors.JobConflictError("regulations", "3f2b8c4e-9d1a-4e7b-8f6c-2a5d9e0b1c7f"), 409),
    (errors.CatalogueError("sync number types first"), 400),
    (errors.ExportError("too many rows"), 422),
    (errors.ConfigError("TWILIO_AUTH_TOKEN is not set"), 500),
    (errors.DatabaseError("cannot open database"), 503),
    (errors.TwilioAuthError("Authenticate", status=401, code=20003), 502),
    (errors.TwilioServerError("Service unavailable", status=503), 502),
    (errors.TwilioRateLimited("Too many requests", status=429, code=20429), 502),
    (errors.TwilioNotFound("The requested resource was not found", status=404, code=20404), 404),
    (errors.NumbersearchError("something odd"), 500),
]


def app_raising(exc: BaseException, sqlite_url: str) -> Any:
    # The mapping does not touch the database: one dialect is enough.
    app = create_app(make_settings("http://127.0.0.1:9", sqlite_url))

    @get("/api/v1/raise", sync_to_thread=False)
    def raise_it() -> None:
        raise exc

    app.register(raise_it)
    return app


@pytest.mark.parametrize(("exc", "status"), MAPPED, ids=[type(e).__name__ for e, _ in MAPPED])
async def test_library_errors_map_to_http(exc: Exception, status: int, sqlite_url: str) -> None:
    assert status_for(exc) == status  # type: ignore[arg-type]
    async with AsyncTestClient(app_raising(exc, sqlite_url)) as client:
        body = assert_error(await client.get("/api/v1/raise"), status)
    if isinstance(exc, errors.JobConflictError):
        assert body["job_id"] == exc.job_id and body["sync_type"] == "regulations"
    elif isinstance(exc, errors.TwilioError):
        assert exc.message in body["error"] and body["twilio_code"] == exc.code
    else:
        assert body["error"] == str(exc)


@pytest.mark.parametrize("exc", [RuntimeError("secret internals /etc/passwd"), KeyError("x")])
async def test_unexpected_errors_are_a_generic_500(exc: Exception, sqlite_url: str, caplog) -> None:
    async with AsyncTestClient(app_raising(exc, sqlite_url)) as client:
        body = assert_error(await client.get("/api/v1/raise"), 500)
    assert body == {"error": "internal server error", "status": 500}
    assert any(r.exc_info for r in caplog.records), "the trace goes to the log"


async def test_a_database_failure_after_opening_is_503_not_500(live_settings, engine) -> None:
    # A driver error mid-request is wrapped into DatabaseError by the engine itself, so it maps like any other.
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE regulations"))
    async with AsyncTestClient(create_app(live_settings, engine)) as client:
        assert_error(await client.get("/api/v1/regulations"), 503, "database", "regulations")


# --- lifespan: stale jobs at startup, running jobs at shutdown ---


def insert_job(engine: Any, status: str, heartbeat_age: float, sync_type: str = "regulations") -> str:
    job_id = str(uuid.uuid4())
    old = utcnow() - timedelta(seconds=heartbeat_age)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(SyncJob.__table__).values(  # type: ignore[attr-defined]
                job_id=job_id, sync_type=sync_type, status=status, created_at=old, started_at=old,
                heartbeat_at=old, failures=[],
            )
        )
    return job_id


async def test_startup_marks_stale_jobs_failed(live_settings, engine) -> None:
    stale = insert_job(engine, "in_progress", heartbeat_age=3600)
    fresh = insert_job(engine, "in_progress", heartbeat_age=0, sync_type="number_types")
    async with AsyncTestClient(create_app(live_settings, engine)) as client:
        assert jobs.get_job(stale, engine=engine, settings=live_settings)["status"] == "failed"  # marked at startup
        assert (await client.get(f"/api/v1/sync/{fresh}")).json()["status"] == "in_progress"
        job = (await client.get(f"/api/v1/sync/{stale}")).json()
        assert job["status"] == "failed" and "runner" in job["error"]
        # The fresh job (another process's, still beating) keeps its slot; the stale job's slot is free again.
        assert_error(await client.post("/api/v1/sync"), 409, fresh)
        response = await client.post("/api/v1/sync/regulations")
        assert response.status_code == 202, response.text
        with running_worker(live_settings, engine):
            assert (await poll_job(client, response.json()["job_id"]))["status"] == "completed"


async def test_a_job_read_by_id_is_the_library_s_answer_and_a_dead_one_is_failed(live_settings, engine) -> None:
    async with AsyncTestClient(create_app(live_settings, engine)) as client:
        assert (await client.get("/health")).status_code == 200  # the engine is open: reads take the fast path
        done = insert_job(engine, "completed", heartbeat_age=5)
        for _ in range(2):  # the first read may open the reader; both answer alike
            assert (await client.get(f"/api/v1/sync/{done}")).json() == jobs.get_job(done, engine=engine)
        dead = insert_job(engine, "in_progress", heartbeat_age=120)
        answer = (await client.get(f"/api/v1/sync/{dead}")).json()
        assert answer["status"] == "failed" and answer["error"].startswith("runner stopped responding")
        assert answer["completed_at"] == answer["heartbeat_at"]
        assert jobs.get_job(dead, engine=engine)["status"] == "failed", "marked so in the row too"
        assert_error(await client.get(f"/api/v1/sync/{uuid.uuid4()}"), 404)
        assert_error(await client.get("/api/v1/sync/not-a-uuid"), 400)


async def test_the_api_only_queues_and_a_stopped_worker_ends_its_job(live_settings, engine, sandbox_server) -> None:
    sandbox_server.app.options.latency_ms = 200
    async with AsyncTestClient(create_app(live_settings, engine)) as client:
        job_id = (await client.post("/api/v1/sync/regulations")).json()["job_id"]
        queued = (await client.get(f"/api/v1/sync/{job_id}")).json()
        assert (queued["status"], queued["waiting_for_worker"], queued["runner"]) == ("pending", True, None)
    async with AsyncTestClient(create_app(live_settings, engine)) as client:
        # Stopping the API stopped nothing: the job waits for a worker.
        assert (await client.get(f"/api/v1/sync/{job_id}")).json()["status"] == "pending"
        with running_worker(live_settings, engine):
            running = await poll_job(client, job_id, until=("in_progress",))
            assert running["runner"] == f"{socket.gethostname()}:{os.getpid()}" and not running["waiting_for_worker"]
            assert running["source"] == {
                "api": live_settings.twilio_api_base_url,
                "numbers": live_settings.twilio_numbers_base_url,
                "pricing": live_settings.twilio_pricing_base_url,
            }
        job = (await client.get(f"/api/v1/sync/{job_id}")).json()
    assert job["status"] == "failed" and job["error"] == "worker stopped"
    assert "lease_token" not in job and "scheduled_for" not in job


# --- cancel ---


async def test_delete_cancels_a_running_job_and_answers_409_once_it_ended(live: AsyncTestClient, sandbox_server,
                                                                         engine) -> None:
    sandbox_server.app.options.latency_ms = 150  # keeps the job running while it is cancelled
    job_id = (await live.post("/api/v1/sync/regulations")).json()["job_id"]
    await poll_job(live, job_id, until=("in_progress",))
    response = await live.delete(f"/api/v1/sync/{job_id}")
    assert response.status_code == 202, response.text
    cancelled = response.json()
    assert (cancelled["job_id"], cancelled["status"], cancelled["error"]) == (job_id, "failed", "cancelled")
    assert cancelled["completed_at"].endswith("Z")
    body = assert_error(await live.delete(f"/api/v1/sync/{job_id}"), 409, "already ended", job_id)
    assert body["status"] == 409
    assert_error(await live.delete(f"/api/v1/sync/{uuid.uuid4()}"), 404)
    assert_error(await live.delete("/api/v1/sync/not-a-uuid"), 400)
    # The slot is free again, and the cancelled job stays as it was.
    await poll(lambda: jobs.running_job_ids() == [])
    assert (await live.get(f"/api/v1/sync/{job_id}")).json()["error"] == "cancelled"
    assert (await live.post("/api/v1/sync/regulations")).status_code == 202


async def test_delete_of_a_pending_job_fails_it_at_once(client: AsyncTestClient) -> None:
    job_id = (await client.post("/api/v1/sync/regulations")).json()["job_id"]
    response = await client.delete(f"/api/v1/sync/{job_id}")
    assert response.status_code == 202
    assert (response.json()["status"], response.json()["error"]) == ("failed", "cancelled")


# --- workers ---


async def test_health_and_workers_count_the_live_workers(client: AsyncTestClient, settings, engine) -> None:
    assert (await client.get("/health")).json()["workers"] == 0
    assert (await client.get("/api/v1/workers")).json() == {"workers": [], "schedule": []}
    with running_worker(settings, engine) as worker:
        health = await client.get("/health")
        assert health.status_code == 200 and health.json()["workers"] == 1
        listed = (await client.get("/api/v1/workers")).json()["workers"]
        assert [(w["worker_id"], w["host"], w["pid"]) for w in listed] == [
            (worker.worker_id, socket.gethostname(), os.getpid())
        ]
        assert listed[0]["job_id"] is None and listed[0]["heartbeat_at"].endswith("Z")
    assert (await client.get("/health")).json()["workers"] == 0


async def test_workers_shows_the_next_run_of_each_schedule_entry(settings, engine) -> None:
    scheduled = settings.model_copy(update={"schedule": "regulations=0 3 * * 1; all=30 2 1 * *"})
    async with AsyncTestClient(create_app(scheduled, engine)) as client:
        body = (await client.get("/api/v1/workers")).json()
    first, second = body["schedule"]
    assert (first["resources"], first["cron"]) == (["regulations"], "0 3 * * 1")
    assert second["resources"] == list(RESOURCES) and second["cron"] == "30 2 1 * *"
    monday = datetime.fromisoformat(first["next_run"].replace("Z", "+00:00"))
    assert (monday.weekday(), monday.hour, monday.minute) == (0, 3, 0) and monday > utcnow()
    assert monday - utcnow() <= timedelta(days=7)
    first_of_month = datetime.fromisoformat(second["next_run"].replace("Z", "+00:00"))
    assert (first_of_month.day, first_of_month.hour, first_of_month.minute) == (1, 2, 30)


# --- the token guard ---


@pytest.fixture
async def guarded(sandbox_server, database_url: str, engine) -> AsyncIterator[AsyncTestClient]:
    settings = make_settings(sandbox_server.base_url, database_url, api_token=API_TOKEN)
    async with AsyncTestClient(create_app(settings, engine)) as client:
        yield client


WRONG_AUTHORIZATIONS = [
    None, "", "Bearer", "Bearer wrong", f"Basic {API_TOKEN}", f"Bearer {API_TOKEN}x", f"Bearer {API_TOKEN[:-1]}",
    API_TOKEN,
]
GUARDED = [("GET", "/api/v1/sync"), ("POST", "/api/v1/sync"), ("POST", "/api/v1/sync/regulations"),
           ("GET", "/api/v1/sync/not-a-uuid"), ("GET", "/api/v1/sync?limit=0"), ("GET", "/api/v1/countries"),
           ("GET", "/api/v1/countries/US"), ("GET", "/api/v1/regulations"), ("GET", "/api/v1/regulations/RN1"),
           ("GET", "/api/v1/regulations/export"), ("GET", "/api/v1/numbers/search?country=US")]


async def test_token_required_on_every_api_route(guarded: AsyncTestClient) -> None:
    for method, path in GUARDED:
        for authorization in WRONG_AUTHORIZATIONS:
            headers = {} if authorization is None else {"Authorization": authorization}
            response = await guarded.request(method, path, headers=headers)
            assert_error(response, 401, "bearer token")
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert API_TOKEN not in response.text
    assert (await guarded.get("/api/v1/sync")).status_code == 401


async def test_right_token_is_admitted_and_health_and_schema_stay_open(guarded: AsyncTestClient) -> None:
    good = {"Authorization": f"Bearer {API_TOKEN}"}
    assert (await guarded.get("/api/v1/sync", headers=good)).json() == {"jobs": []}
    lower = {"Authorization": f"bearer {API_TOKEN}"}
    assert (await guarded.get("/api/v1/countries", headers=lower)).status_code == 200
    assert (await guarded.get("/health")).status_code == 200
    schema = await guarded.get("/schema/openapi.json")
    assert schema.status_code == 200 and API_TOKEN not in schema.text
    assert schema.json()["paths"]["/api/v1/sync"]["get"]["security"] == [{"BearerToken": []}]
    accepted = await guarded.post("/api/v1/sync", headers=good)
    assert accepted.status_code == 202
    job = await guarded.get(accepted.headers["location"], headers=good)
    assert job.status_code == 200 and API_TOKEN not in job.text


# --- OpenAPI ---


async def test_openapi_lists_every_endpoint_with_examples(client: AsyncTestClient) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    paths = schema["paths"]
    expected = {
        "/api/v1/sync": {"get", "post"},
        "/api/v1/sync/regulations": {"post"},
        "/api/v1/sync/{job_id}": {"get"},
        "/api/v1/sync/{resource}": {"post"},
        "/api/v1/countries": {"get"},
        "/api/v1/countries/{code}": {"get"},
        "/api/v1/regulations": {"get"},
        "/api/v1/regulations/{sid}": {"get"},
        "/api/v1/regulations/export": {"get"},
        "/api/v1/numbers/search": {"get"},
        "/health": {"get"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path
    accepted = paths["/api/v1/sync"]["post"]["responses"]["202"]
    assert accepted["content"]["application/json"]["examples"]["accepted"]["value"]["status"] == "accepted"
    assert "Location" in accepted["headers"]
    assert "409" in paths["/api/v1/sync/regulations"]["post"]["responses"]
    job_example = paths["/api/v1/sync/{job_id}"]["get"]["responses"]["200"]["content"]["application/json"]
    completed = job_example["examples"]["completed"]["value"]
    assert completed["started_at"].endswith("Z") and uuid.UUID(completed["job_id"])
    limit = next(p for p in paths["/api/v1/sync"]["get"]["parameters"] if p["name"] == "limit")
    assert (limit["schema"]["minimum"], limit["schema"]["maximum"], limit["schema"]["default"]) == (1, 100, 10)
    job_schema = schema["components"]["schemas"]["JobPublic"]["properties"]
    for field in ("job_id", "status", "started_at", "completed_at", "countries_processed", "countries_total",
                  "error", "sync_type", "countries_failed", "failures"):
        assert field in job_schema, field
    for status in ("400", "404"):
        assert status in paths["/api/v1/sync/{job_id}"]["get"]["responses"]
    search = paths["/api/v1/numbers/search"]["get"]["responses"]
    assert "400" in search and "409" not in search, "a catalogue problem is the request's, not a conflict"


def test_create_app_does_no_database_work(tmp_path: Path) -> None:
    from numbersearch.config import get_settings

    create_app(get_settings(database_url=f"sqlite:///{tmp_path / 'lazy.db'}"))
    assert not (tmp_path / "lazy.db").exists()
