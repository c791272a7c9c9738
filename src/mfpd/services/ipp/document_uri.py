"""Fetching the document of a Print-URI or Send-URI request (RFC 8011 4.2.2, 4.3.2).

The printer pulls the document itself, streamed to the spool like an uploaded one: http and
https through aiohttp, ftp through the standard library in a worker thread, and file (off by
default: it reads the controller's own disk) from a regular file only.
"""

from __future__ import annotations

import asyncio
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp

from mfpd.config import IppConfig

CHUNK = 256 * 1024


class FetchError(Exception):
    """The document could not be fetched: client-error-document-access-error."""


def scheme_of(uri: str) -> str:
    return urllib.parse.urlsplit(uri).scheme.lower()


async def fetch(uri: str, settings: IppConfig, user_agent: str) -> AsyncIterator[bytes]:
    """The document at `uri` in chunks; any failure is a FetchError (never an OSError, which
    the receiver reads as the client going away)."""
    scheme = scheme_of(uri)
    try:
        async with asyncio.timeout(settings.document_uri_timeout):
            if scheme in ("http", "https"):
                async for chunk in _http(uri, settings, user_agent):
                    yield chunk
            elif scheme == "ftp":
                async for chunk in _ftp(uri, settings.document_uri_timeout):
                    yield chunk
            elif scheme == "file":
                async for chunk in _file(uri):
                    yield chunk
            else:
                raise FetchError(f"scheme {scheme} is not supported")
    except FetchError:
        raise
    except TimeoutError:
        raise FetchError(
            f"{uri}: no complete answer in {settings.document_uri_timeout:.0f} s"
        ) from None
    except (OSError, aiohttp.ClientError, ValueError, UnicodeError) as exc:
        raise FetchError(f"{uri}: {exc or type(exc).__name__}") from None


async def _http(uri: str, settings: IppConfig, user_agent: str) -> AsyncIterator[bytes]:
    async with (
        aiohttp.ClientSession(headers={"User-Agent": user_agent}) as session,
        session.get(
            uri, ssl=settings.document_uri_verify_tls, allow_redirects=True, max_redirects=5
        ) as response,
    ):
        if response.status != 200:
            raise FetchError(f"{uri}: HTTP {response.status} {response.reason or ''}".strip())
        async for chunk in response.content.iter_chunked(CHUNK):
            yield chunk


async def _ftp(uri: str, timeout: float) -> AsyncIterator[bytes]:
    stream = await asyncio.to_thread(urllib.request.urlopen, uri, timeout=timeout)
    try:
        while chunk := await asyncio.to_thread(stream.read, CHUNK):
            yield chunk
    finally:
        stream.close()


async def _file(uri: str) -> AsyncIterator[bytes]:
    parts = urllib.parse.urlsplit(uri)
    if parts.netloc not in ("", "localhost"):
        raise FetchError(f"{uri}: a file URI names a file on this host (file:///path)")
    path = Path(urllib.parse.unquote(parts.path))
    if not path.is_absolute() or not path.is_file():
        raise FetchError(f"{uri}: no such regular file")
    with path.open("rb") as stream:
        while chunk := await asyncio.to_thread(stream.read, CHUNK):
            yield chunk
