"""Requests decoded once and remembered by their octets, and answers encoded once, sans-I/O.

A polling client sends the same request again and again: CUPS's ipp backend asks for the
same printer attributes every few seconds, a fleet tool for the same status, a driver
validates the same job ticket; only the request-id changes. Decoding is a pure function of
the octets and the `Limits`, and a decoded `Message` is immutable, so a request seen before
is taken from memory instead of decoded again: the result is exactly what decoding again
would give.
"""

from __future__ import annotations

from typing import Final

from mfpd.codecs.ipp.decode import Limits, decode_message
from mfpd.codecs.ipp.encode import encode_message
from mfpd.codecs.ipp.values import AttributeGroup, Message

__all__ = ["AnswerMemo", "RequestMemo"]

_INT32_MIN: Final = -(2**31)
_INT32_MAX: Final = 2**31 - 1

_DEFAULT_LIMITS: Final = Limits()


class RequestMemo:
    """`decode_message` for a body in hand, remembering what it decoded.

    Only bodies of at most ``max_octets`` that end with their end-of-attributes tag are
    remembered (document data is never part of a key), at most ``entries`` of them, the
    oldest forgotten first; so no client can make it hold more than entries x max_octets.
    Decoding errors are not remembered: a bad request is decoded, and refused, every time.
    """

    __slots__ = ("_entries", "_known", "_limits", "max_octets")

    def __init__(
        self, limits: Limits = _DEFAULT_LIMITS, entries: int = 256, max_octets: int = 4096
    ) -> None:
        self._limits = limits
        self._entries = entries
        self.max_octets = max_octets
        self._known: dict[bytes, Message] = {}

    def decode(self, data: bytes) -> tuple[Message, int]:
        """The message and the offset of its first document octet, as `decode_message`."""
        n = len(data)
        if n > self.max_octets or n < 9:
            return decode_message(data, self._limits)
        # RFC 8010 3.1.1: version and operation-id, then the request-id, then the rest.
        key = data[:4] + data[8:]
        known = self._known.get(key)
        if known is not None:
            request_id = int.from_bytes(data[4:8], "big", signed=True)
            if known.request_id != request_id:
                known = Message(known.version, known.code, request_id, known.groups)
            return known, n
        message, offset = decode_message(data, self._limits)
        if offset == n and self._entries > 0:
            if len(self._known) >= self._entries:
                del self._known[next(iter(self._known))]
            self._known[key] = message
        return message, offset


class AnswerMemo:
    """`encode_message` for answers made of kept-encoded groups (`keep_encoded_group`),
    remembering the last one.

    A polling client is answered the very same groups again and again (the printer's
    attributes while nothing has changed): their octets differ from the last answer's only
    in the request-id (RFC 8010 3.1.1: octets 4 to 7), which is put in instead of encoding
    the message again. Groups are compared by identity, and only groups whose octets are
    kept (immutable from then on) are remembered, so the result is exactly what encoding
    again would give.
    """

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last: tuple[tuple[int, int], int, tuple[AttributeGroup, ...], bytes] | None = None

    def encode(self, message: Message) -> bytes:
        groups = message.groups
        last = self._last
        if (
            last is not None
            and last[0] == message.version
            and last[1] == message.code
            and len(groups) == len(last[2])
            and all(a is b for a, b in zip(groups, last[2], strict=True))
            and _INT32_MIN <= message.request_id <= _INT32_MAX
        ):
            octets = last[3]
            return octets[:4] + message.request_id.to_bytes(4, "big", signed=True) + octets[8:]
        octets = encode_message(message)
        if all(group.kept_encoded for group in groups):
            self._last = (message.version, message.code, groups, octets)
        return octets
