"""StopSwitch: stop() cancels guarded waits as Stopped; other cancellations pass through."""

from __future__ import annotations

import asyncio

import pytest

from scraper.errors import ScraperError, Stopped
from scraper.stop import StopSwitch


async def guarded_forever(switch: StopSwitch, nested: bool = False):
    with switch.guard():
        if nested:
            with switch.guard():
                await asyncio.Event().wait()
        await asyncio.Event().wait()


@pytest.mark.parametrize("nested", [False, True])
def test_stop_turns_the_cancellation_into_stopped(nested):
    switch = StopSwitch()

    async def go():
        task = asyncio.create_task(guarded_forever(switch, nested))
        await asyncio.sleep(0.01)
        switch.stop("interrupted by the user")
        with pytest.raises(Stopped, match="interrupted by the user"):
            await task
        assert task.cancelling() == 0  # the task is not left marked as cancelled

    asyncio.run(go())
    assert issubclass(Stopped, ScraperError)


def test_a_guard_entered_after_stop_raises_at_once():
    switch = StopSwitch()
    switch.stop()

    async def go():
        with switch.guard():
            raise AssertionError("not reached")

    with pytest.raises(Stopped):
        asyncio.run(go())


def test_a_cancellation_from_elsewhere_stays_a_cancellation():
    switch = StopSwitch()

    async def go():
        task = asyncio.create_task(guarded_forever(switch))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not switch.stopped

    asyncio.run(go())


def test_stop_and_an_outer_cancel_together_remain_a_cancellation():
    # A second Ctrl-C cancels the caller's task as well: that must not be swallowed.
    switch = StopSwitch()

    async def go():
        task = asyncio.create_task(guarded_forever(switch))
        await asyncio.sleep(0.01)
        switch.stop()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(go())


def test_tasks_outside_a_guard_are_left_alone():
    switch = StopSwitch()

    async def go():
        async def unguarded():
            await asyncio.sleep(0.05)
            return "done"

        task = asyncio.create_task(unguarded())
        await asyncio.sleep(0.01)
        switch.stop()
        return await task

    assert asyncio.run(go()) == "done"
