"""Passwords the device keeps for its outbound clients (scan destinations, SMTP), encrypted at
rest: Fernet (AES-128-CBC with HMAC-SHA256) under a key in STATE_DIR/secret.key (mode 0600),
made at first use. Anyone who reads the state dir's key reads the passwords, as with any device
that must log in somewhere by itself; what this prevents is a password readable in a settings
file, a backup of the settings, or an API answer."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

KEY_FILE = "secret.key"
# A stored secret is this prefix and the Fernet token, so a plain password (written in the
# configuration file by hand) and an encrypted one can sit in the same field.
PREFIX = "enc:"
# What the UI and the API show in place of a password that is set.
MASK = "********"


class SecretError(Exception):
    """An encrypted value that this state dir's key does not open."""


class Secrets:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / KEY_FILE
        self._fernet: Fernet | None = None

    def _key(self) -> Fernet:
        if self._fernet is None:
            try:
                key = self.path.read_bytes().strip()
            except FileNotFoundError:
                key = Fernet.generate_key()
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as out:
                    out.write(key + b"\n")
            self._fernet = Fernet(key)
        return self._fernet

    def seal(self, password: str) -> str:
        """The stored form of a password (empty stays empty)."""
        if not password or password.startswith(PREFIX):
            return password
        return PREFIX + self._key().encrypt(password.encode()).decode()

    def open(self, stored: str) -> str:
        """The password a stored value holds; a plain value (from the file) as it is."""
        if not stored.startswith(PREFIX):
            return stored
        try:
            return self._key().decrypt(stored[len(PREFIX) :].encode()).decode()
        except (InvalidToken, ValueError):
            raise SecretError("a stored password does not open with this state dir's key") from None


def masked(stored: str) -> str:
    """What a reader of the settings sees: the mask when a password is set, else empty."""
    return MASK if stored else ""
