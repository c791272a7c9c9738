"""Secure print: a job that waits, held, until its owner types the passcode at the device.

IPP carries the passcode as `job-password` (PWG 5100.11 section 6.1), either as typed
(`job-password-encryption` none) or already hashed by the client (md5, sha, sha2-*); the web
UI and the front panel (`mfpd release --passcode`) release the job with the passcode.
Only a digest is kept, never the passcode as typed.
"""

from __future__ import annotations

import hashlib
import hmac

from mfpd.device.jobs import Job

# PWG 5100.11 job-password-encryption keyword -> hashlib name.
HASHES = {
    "md5": "md5",
    "sha": "sha1",
    "sha2-224": "sha224",
    "sha2-256": "sha256",
    "sha2-384": "sha384",
    "sha2-512": "sha512",
}
PASSWORD_WAIT = "job-password-wait"  # PWG 5100.11 job-state-reasons while it waits
_KEY = "job-password"


def protect(job: Job, secret: bytes, encryption: str = "none") -> None:
    """Attach the passcode to the job: `secret` is the passcode, or its digest under
    `encryption` (a key of HASHES), as the client sent it."""
    if encryption == "none":
        encryption, secret = "sha2-256", hashlib.sha256(secret).digest()
    if encryption not in HASHES:
        raise ValueError(f"unknown job-password-encryption {encryption}")
    job.attributes[_KEY] = {"hash": encryption, "digest": secret.hex()}


def is_protected(job: Job) -> bool:
    return _KEY in job.attributes


def verify(job: Job, passcode: str) -> bool:
    """Whether the passcode typed at the device is the job's."""
    stored = job.attributes.get(_KEY)
    if not isinstance(stored, dict):
        return False
    algorithm = HASHES.get(str(stored.get("hash")))
    if algorithm is None:
        return False
    digest = hashlib.new(algorithm, passcode.encode()).hexdigest()
    return hmac.compare_digest(digest, str(stored.get("digest", "")))
