"""Coroutines started in the caller (the IPP fast path's operations), and going on in a task
when they wait after all."""

from __future__ import annotations

import asyncio

import pytest

from mfpd.services.ipp import eager


async def _at_once(value: int) -> int:
    return value * 2


async def _waits(ready: asyncio.Future[int], steps: list[str]) -> int:
    steps.append("before")
    await asyncio.sleep(0)
    value = await ready
    steps.append("after")
    return value + 1


async def test_a_coroutine_that_never_waits_ends_in_the_call() -> None:
    assert eager.start(_at_once(21)) == (42, None)


async def test_a_coroutine_that_waits_goes_on_in_a_task() -> None:
    ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    steps: list[str] = []
    result, task = eager.start(_waits(ready, steps))
    assert result is None and task is not None
    assert steps == ["before"]  # the first part ran in the call
    await asyncio.sleep(0.01)
    assert not task.done()
    ready.set_result(6)
    assert await task == 7
    assert steps == ["before", "after"]


async def test_errors_and_cancellation_reach_the_coroutine() -> None:
    async def fails() -> int:
        await asyncio.sleep(0)
        raise ValueError("bad")

    _, task = eager.start(fails())
    assert task is not None
    with pytest.raises(ValueError, match="bad"):
        await task

    cleaned: list[bool] = []

    async def sleeps() -> int:
        try:
            await asyncio.sleep(60)
        finally:
            cleaned.append(True)
        return 0

    _, task = eager.start(sleeps())
    assert task is not None
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned == [True]

    with pytest.raises(KeyError):
        eager.start(_raises_at_once())


async def _raises_at_once() -> int:
    raise KeyError("now")
