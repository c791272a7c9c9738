"""How much a UDP responder may send back: no reflection or amplification for a spoofed source.

A UDP request's source address is not proven (CVE-2023-29552 made SLP the largest known
amplifier). A reply no larger than its request amplifies nothing and is always allowed; the
part of a reply beyond its request's size is drawn from two token buckets, one per source and
one for the whole responder, which refill slowly. So a flood of spoofed requests, from one
source or from many, gets out no more bytes than came in beyond one bucket's worth, and an
ordinary client (a handful of queries a minute) never notices.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class ReplyBudget:
    def __init__(
        self,
        per_source: int = 8192,
        per_source_rate: float = 1024.0,
        total: int = 65536,
        total_rate: float = 16384.0,
        max_sources: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_source = per_source
        self.per_source_rate = per_source_rate
        self.total_rate = total_rate
        self.max_sources = max_sources
        self.clock = clock
        self._total = _Bucket(float(total), clock())
        self._total_cap = total
        self._sources: OrderedDict[str, _Bucket] = OrderedDict()
        self.refused = 0  # replies not sent for want of budget
        self.bytes_in = 0
        self.bytes_out = 0

    def received(self, size: int) -> None:
        self.bytes_in += size

    def allow(self, source: str, request_size: int, reply_size: int) -> bool:
        """Whether a reply of reply_size to a request of request_size from source may go;
        if so it is counted as sent."""
        extra = reply_size - request_size
        if extra > 0:
            now = self.clock()
            bucket = self._source(source, now)
            self._refill(bucket, now, self.per_source_rate, self.per_source)
            self._refill(self._total, now, self.total_rate, self._total_cap)
            if bucket.tokens < extra or self._total.tokens < extra:
                self.refused += 1
                return False
            bucket.tokens -= extra
            self._total.tokens -= extra
        self.bytes_out += reply_size
        return True

    def _source(self, source: str, now: float) -> _Bucket:
        bucket = self._sources.get(source)
        if bucket is None:
            # A new source starts with a full bucket; the oldest one is forgotten past the
            # bound, which a spoofer gains nothing from: the total bucket still applies.
            bucket = _Bucket(float(self.per_source), now)
            self._sources[source] = bucket
            if len(self._sources) > self.max_sources:
                self._sources.popitem(last=False)
        else:
            self._sources.move_to_end(source)
        return bucket

    @staticmethod
    def _refill(bucket: _Bucket, now: float, rate: float, cap: int) -> None:
        bucket.tokens = min(float(cap), bucket.tokens + (now - bucket.stamp) * rate)
        bucket.stamp = now
