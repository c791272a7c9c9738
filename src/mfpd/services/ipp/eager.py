"""Running a coroutine at once, in the caller, until it first waits (Python 3.12's eager
tasks, for 3.11).

The IPP fast path answers a Get-Printer-Attributes or a Validate-Job inside the callback that
received it: the operation never waits, and a task per request would cost more than the
operation. Should such a coroutine wait after all, it goes on in a task from where it
stopped. Only for coroutines that need no task of their own before they first wait
(`asyncio.timeout` and `asyncio.current_task` do).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def start(coroutine: Coroutine[Any, Any, T]) -> tuple[T | None, asyncio.Future[T] | None]:
    """Run ``coroutine`` until it ends or waits: (its result, None) if it ended, else
    (None, the task it goes on in)."""
    try:
        waiting_on = coroutine.send(None)
    except StopIteration as done:
        return done.value, None
    return None, asyncio.ensure_future(_go_on(coroutine, waiting_on))


async def _go_on(coroutine: Coroutine[Any, Any, T], waiting_on: Any) -> T:
    return await _Continued(coroutine, waiting_on)


class _Continued(Generic[T]):
    """Hands what the coroutine waits on to the task, and the task's answers back to it."""

    def __init__(self, coroutine: Coroutine[Any, Any, T], waiting_on: Any) -> None:
        self._coroutine = coroutine
        self._waiting_on = waiting_on

    def __await__(self) -> Generator[Any, Any, T]:
        coroutine, waiting_on = self._coroutine, self._waiting_on
        while True:
            try:
                sent = yield waiting_on
            except BaseException as exc:  # cancellation included: the coroutine decides
                try:
                    waiting_on = coroutine.throw(exc)
                except StopIteration as done:
                    return done.value  # type: ignore[no-any-return]
            else:
                try:
                    waiting_on = coroutine.send(sent)
                except StopIteration as done:
                    return done.value  # type: ignore[no-any-return]
