"""`schoolgate serve` keeps its companion process running, and stops it when it stops."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

from bot.runtime import companion


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_a_companion_that_exits_is_started_again() -> None:
    async def scenario() -> int:
        stop = asyncio.Event()
        task = asyncio.create_task(companion.supervise(
            stop, _python("import sys; sys.exit(3)"), restart_after=0.05))
        await asyncio.sleep(2.0)
        stop.set()
        return await task

    assert asyncio.run(scenario()) >= 2


def test_stopping_asks_the_companion_to_stop_and_waits_for_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    marker = tmp_path / "stopped"
    code = ("import signal, sys, time\n"
            f"def bye(*_):\n    open({str(marker)!r}, 'w').write('clean')\n    sys.exit(0)\n"
            "signal.signal(signal.SIGTERM, bye)\n"
            "time.sleep(60)\n")

    async def scenario() -> int:
        stop = asyncio.Event()
        task = asyncio.create_task(companion.supervise(stop, _python(code)))
        await asyncio.sleep(1.0)
        stop.set()
        return await asyncio.wait_for(task, timeout=10)

    assert asyncio.run(scenario()) == 1
    assert marker.read_text() == "clean"  # it finished its work; it was not killed


def test_a_companion_that_ignores_the_request_is_killed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(companion, "GRACE_SECONDS", 0.5)
    code = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(60)"

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(companion.supervise(stop, _python(code)))
        await asyncio.sleep(1.0)
        stop.set()
        await asyncio.wait_for(task, timeout=10)

    asyncio.run(scenario())  # returns: nothing left running


def test_the_companion_stops_when_its_web_process_has_gone() -> None:
    async def scenario() -> bool:
        stop = asyncio.Event()
        not_my_parent = os.getppid() + 1_000_000
        await asyncio.wait_for(companion.run_companion(stop, not_my_parent), timeout=5)
        return stop.is_set()

    assert asyncio.run(scenario())
