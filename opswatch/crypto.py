"""Secrets at rest and credentials: encrypted when we must read them back,
hashed when we only need to recognise them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class SecretDecryptionError(Exception):
    """A stored secret cannot be read with the configured keys."""


class SecretBox:
    """Encrypts tenant secrets (bot tokens, telephony credentials) with Fernet.

    Keys come from ``OPSWATCH_SECRET_KEY``; each is stretched with HKDF so any
    long random string works. The first key encrypts, all keys decrypt.
    """

    def __init__(self, keys: tuple[str, ...]) -> None:
        if not keys:
            raise ValueError("at least one secret key is required")
        self._fernet = MultiFernet([Fernet(_derive(key)) for key in keys])
        self._signing_keys = [_derive(key, b"opswatch link signatures") for key in keys]

    def sign(self, message: str) -> str:
        """A signature for links that must work without a login (handoff reports)."""
        return _mac(self._signing_keys[0], message)

    def signature_matches(self, message: str, signature: str) -> bool:
        return any(hmac.compare_digest(_mac(key, message), signature) for key in self._signing_keys)

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise SecretDecryptionError(
                "stored secret does not decrypt with OPSWATCH_SECRET_KEY"
            ) from None


def _derive(key: str, purpose: bytes = b"fernet") -> bytes:
    """A 32-byte key for one purpose (base64, as Fernet wants it); the stored
    fernet keys depend on the default purpose's exact bytes."""
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"opswatch-secrets", info=purpose).derive(
        key.encode()
    )
    return base64.urlsafe_b64encode(raw)


def _mac(key: bytes, message: str) -> str:
    digest = hmac.new(key, message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode()


@dataclass(frozen=True)
class IssuedCredential:
    """A freshly minted key or token: the clear text exists only in this object."""

    clear: str
    prefix: str
    digest: str


def issue_credential(kind: str) -> IssuedCredential:
    """Mint ``ow<kind>_<prefix>_<secret>``; the prefix finds the row, the hash proves it.

    The secret carries 256 bits of entropy, so a plain SHA-256 is a safe hash:
    a slow password hash would only slow down every webhook.
    """
    prefix = secrets.token_hex(6)
    clear = f"ow{kind}_{prefix}_{secrets.token_urlsafe(32)}"
    return IssuedCredential(clear=clear, prefix=prefix, digest=hash_credential(clear))


def hash_credential(clear: str) -> str:
    return hashlib.sha256(clear.encode()).hexdigest()


def credential_prefix(clear: str, kind: str) -> str | None:
    """The lookup prefix of a presented credential, or None when it is malformed."""
    parts = clear.split("_", 2)
    if len(parts) != 3 or parts[0] != f"ow{kind}" or len(parts[1]) != 12:
        return None
    return parts[1]


def credential_matches(clear: str, digest: str) -> bool:
    return hmac.compare_digest(hash_credential(clear), digest)
