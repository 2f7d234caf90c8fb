"""Health and metrics: `/healthz` (alive), `/readyz` (ready to do the school's work) and
`/metrics` (Prometheus's text format).

`/healthz` answers as long as the process and the database do (GET and HEAD), for a
container's health check. `/readyz` also needs the background process's heartbeat to be
fresh (bot.runtime.heartbeat) and, when the scheduler is on, the scheduler's; it reports
the age of the oldest due delivery and of the oldest reply waiting to be routed, and
answers 503 with what is wrong. `/metrics` answers loopback clients, or anyone presenting
SCHOOLGATE_METRICS_TOKEN as a bearer token: counts from the database (deliveries by
channel and status, queue depth and age, retries, routing lag, scheduler job runs and
failures from its heartbeat) and this process's webhook latency histogram. Nothing
personal is in any of it: counts and ages only.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.runtime.context import Context
from bot.store import reading
from bot.store.heartbeats import last_beats
from bot.store.models import Delivery, DeliveryStatus, InboundMessage, InboundStatus, utcnow
from channels.base import reveal

router = APIRouter()

#: a heartbeat older than this many of its intervals means the process is gone
MISSED_BEATS = 3
SCHEDULER_STALE_SECONDS = 60.0  # the scheduler beats when it renews its lease (15 s)
LOOPBACK = {"127.0.0.1", "::1"}
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


@router.api_route("/healthz", methods=["GET", "HEAD"])
def healthz(request: Request) -> dict[str, str]:
    """Liveness: the process is up and the database answers."""
    ctx: Context = request.app.state.ctx
    with reading(ctx.factory) as session:  # never queues for SQLite's write lock
        session.connection().exec_driver_sql("SELECT 1")
    return {"status": "ok"}


@router.api_route("/readyz", methods=["GET", "HEAD"])
def readyz(request: Request) -> JSONResponse:
    """Readiness: the database, the background process and the scheduler are working."""
    ctx: Context = request.app.state.ctx
    problems: list[str] = []
    report: dict[str, Any] = {}
    try:
        with reading(ctx.factory) as session:
            beats = last_beats(session)
            report["oldest_due_delivery_seconds"] = _age(_oldest_due(session))
            report["oldest_waiting_reply_seconds"] = _age(_oldest_waiting(session))
    except Exception as exc:  # the database is away: nothing else can be known
        return JSONResponse({"status": "unready",
                             "problems": [f"database: {type(exc).__name__}"]},
                            status_code=503)
    now = utcnow()
    background = beats.get("background")
    limit = MISSED_BEATS * ctx.settings.heartbeat_seconds
    report["background_heartbeat_seconds"] = _age(background.at if background else None)
    if background is None or (now - background.at).total_seconds() > limit:
        problems.append("background process: no heartbeat for "
                        f"{limit:.0f} s (is `schoolgate background` running?)")
    if ctx.settings.scheduler_enabled:
        scheduler = beats.get("scheduler")
        report["scheduler_heartbeat_seconds"] = _age(scheduler.at if scheduler else None)
        if scheduler is None or (now - scheduler.at).total_seconds() > SCHEDULER_STALE_SECONDS:
            problems.append("scheduler: nobody holds the lease")
    body = {"status": "unready" if problems else "ready", "problems": problems, **report}
    return JSONResponse(body, status_code=503 if problems else 200)


@router.get("/metrics")
def metrics(request: Request) -> Response:
    """Prometheus metrics, for loopback clients or the bearer of SCHOOLGATE_METRICS_TOKEN."""
    ctx: Context = request.app.state.ctx
    if not _may_read_metrics(request, reveal(ctx.settings.metrics_token)):
        return Response("forbidden\n", status_code=403, media_type="text/plain")
    registry: CollectorRegistry = request.app.state.metrics_registry
    return Response(generate_latest(registry), media_type=PROMETHEUS_TEXT)


def install(app: FastAPI, ctx: Context) -> None:
    """Add the routes, the database collector and the webhook latency histogram."""
    registry = CollectorRegistry()  # no describe at start-up: it would read the database
    registry.register(DatabaseCollector(ctx))
    latency = Histogram("schoolgate_webhook_seconds",
                        "Time from a provider webhook's request to its response",
                        ["route"], registry=registry,
                        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
    app.state.metrics_registry = registry
    app.include_router(router)

    @app.middleware("http")
    async def time_webhooks(request: Request,
                            call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if not request.url.path.startswith("/webhooks/"):
            return await call_next(request)
        started = time.perf_counter()
        try:
            return await call_next(request)
        finally:
            route = request.url.path.removeprefix("/webhooks/")[:40]
            latency.labels(route=route).observe(time.perf_counter() - started)


class DatabaseCollector(Collector):
    """Counts read from the database when Prometheus scrapes (one short read)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def collect(self) -> Iterator[GaugeMetricFamily]:
        deliveries = GaugeMetricFamily("schoolgate_deliveries", "Deliveries by channel and "
                                       "status", labels=["channel", "status"])
        retries = GaugeMetricFamily("schoolgate_deliveries_retried",
                                    "Deliveries waiting or sent after more than one attempt",
                                    labels=["channel"])
        inbound = GaugeMetricFamily("schoolgate_inbound_messages",
                                    "Inbound messages by channel and status",
                                    labels=["channel", "status"])
        due_age = GaugeMetricFamily("schoolgate_oldest_due_delivery_seconds",
                                    "Age of the oldest delivery due to be sent")
        lag = GaugeMetricFamily("schoolgate_routing_lag_seconds",
                                "Age of the oldest reply stored and not routed yet")
        beat_age = GaugeMetricFamily("schoolgate_heartbeat_age_seconds",
                                     "Seconds since each process's last heartbeat",
                                     labels=["process"])
        runs = GaugeMetricFamily("schoolgate_scheduler_job_runs",
                                 "Scheduler job runs since its process started",
                                 labels=["job"])
        failures = GaugeMetricFamily("schoolgate_scheduler_job_failures",
                                     "Scheduler job runs that raised since its process started",
                                     labels=["job"])
        with reading(self.ctx.factory) as session:
            for channel, status, count in session.execute(
                    select(Delivery.channel, Delivery.status, func.count())
                    .group_by(Delivery.channel, Delivery.status)):
                deliveries.add_metric([channel or "none", str(status)], count)
            for channel, count in session.execute(
                    select(Delivery.channel, func.count()).where(Delivery.attempts > 1)
                    .group_by(Delivery.channel)):
                retries.add_metric([channel or "none"], count)
            for channel, status, count in session.execute(
                    select(InboundMessage.channel, InboundMessage.status, func.count())
                    .group_by(InboundMessage.channel, InboundMessage.status)):
                inbound.add_metric([channel, str(status)], count)
            due_age.add_metric([], _age(_oldest_due(session)) or 0.0)
            lag.add_metric([], _age(_oldest_waiting(session)) or 0.0)
            for name, row in sorted(last_beats(session).items()):
                beat_age.add_metric([name], _age(row.at) or 0.0)
                if name == "scheduler":
                    for job, n in sorted((row.detail.get("runs") or {}).items()):
                        runs.add_metric([job], n)
                    for job, n in sorted((row.detail.get("failures") or {}).items()):
                        failures.add_metric([job], n)
        yield from (deliveries, retries, inbound, due_age, lag, beat_age, runs, failures)


def _oldest_due(session: Session) -> datetime | None:
    return session.scalar(select(func.min(Delivery.next_attempt_at)).where(
        Delivery.status == DeliveryStatus.QUEUED, Delivery.next_attempt_at <= utcnow()))


def _oldest_waiting(session: Session) -> datetime | None:
    return session.scalar(select(func.min(InboundMessage.received_at)).where(
        InboundMessage.status == InboundStatus.RECEIVED))


def _age(moment: datetime | None) -> float | None:
    return None if moment is None else round(max(0.0, (utcnow() - moment).total_seconds()), 1)


def _may_read_metrics(request: Request, token: str | None) -> bool:
    given = request.headers.get("authorization", "")
    if token and given.startswith("Bearer ") and hmac.compare_digest(
            given.removeprefix("Bearer ").encode(), token.encode()):
        return True
    host = request.client.host if request.client else ""
    return host in LOOPBACK and not request.headers.get("x-forwarded-for")
