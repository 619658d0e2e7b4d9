"""Signed model archives: the workspace's Ed25519 key, the public keys it trusts, and the import decision.

An archive's header (name, version, format and the manifest's sha256, which covers the sha256 of every
bundle file) is signed by the exporting workspace's private key. Importing checks that signature against
the keys this workspace trusts (its own and those added with `workbench keys trust`) from the header
alone, before a single bundle file is unpacked, let alone unpickled. An unsigned archive, or one signed by
an unknown key, is imported only when the caller says `trust=True`, and the version stays marked untrusted.
A signature that does not verify means the archive changed after signing: it is refused, whatever the caller says.

The private key lives at `WORKBENCH_HOME/keys/signing-ed25519.pem` (mode 0600, created on first use); a
public key's text form is one line, `workbench-ed25519 BASE64 NAME`, to be sent to whoever imports.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import getpass
import hashlib
import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import InvalidInputError, NotFoundError, WorkbenchError
from workbench.store import Workspace
from workbench.store import keys as key_rows

__all__ = [
    "KEY_FILE",
    "KEY_PREFIX",
    "Keyring",
    "PublicKey",
    "SignatureError",
    "UntrustedArchiveError",
    "check_signature_field",
    "parse_public_key",
]

KEY_FILE = "keys/signing-ed25519.pem"
KEY_PREFIX = "workbench-ed25519"
ALGORITHM = "ed25519"
# Signatures cover this prefix too, so no other message signed by the same key can pass for a header.
DOMAIN = b"workbench model archive header v1\n"
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@+-")


class SignatureError(WorkbenchError):
    """An archive whose signature is present but wrong: it was changed after it was signed."""


class UntrustedArchiveError(WorkbenchError):
    """An unsigned archive, or one signed by a key this workspace does not trust."""


@dataclass(frozen=True)
class PublicKey:
    """A public key: its id (what signatures name), a name for people, its one-line text form.
    `own` marks the workspace's own key; `added_at` is when it was trusted (None for the own key)."""

    key_id: str
    name: str
    public_key: str
    own: bool = False
    added_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "name": self.name,
            "public_key": self.public_key,
            "own": self.own,
            "added_at": self.added_at,
        }


def _key_id(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()[:16]


def _b64decode(text: str) -> bytes | None:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None


def _check_name(name: str) -> str:
    if not 1 <= len(name) <= 64 or not set(name) <= _NAME_CHARS:
        raise InvalidInputError(
            f"The key name {name[:70]!r} is not valid: use 1 to 64 letters, digits or . _ @ + - (no spaces)."
        )
    return name


def parse_public_key(text: str, name: str | None = None) -> PublicKey:
    """A public key from its one-line text form (`workbench-ed25519 BASE64 [NAME]`), or raise saying what is wrong."""
    parts = text.strip().split()
    raw = _b64decode(parts[1]) if len(parts) in (2, 3) and parts[0] == KEY_PREFIX else None
    if raw is None or len(raw) != 32:
        raise InvalidInputError(
            f"That is not a workbench public key: expected one line '{KEY_PREFIX} BASE64 NAME', as "
            "`workbench keys show` prints it on the exporting side."
        )
    key_name = _check_name(name or (parts[2] if len(parts) == 3 else _key_id(raw)))
    return PublicKey(_key_id(raw), key_name, f"{KEY_PREFIX} {parts[1]} {key_name}")


def _payload(header: dict[str, Any]) -> bytes:
    unsigned = {k: v for k, v in header.items() if k != "signature"}
    return DOMAIN + json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _default_name() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "workbench"
    raw = f"{user}@{socket.gethostname()}"
    return "".join(c if c in _NAME_CHARS else "-" for c in raw)[:64] or "workbench"


class Keyring:
    """The workspace's signing key and the keys it trusts (the `trusted_keys` table)."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.path = workspace.settings.home / KEY_FILE
        self._key: Any = None  # the private key, read once

    # the workspace's own key -----------------------------------------------------------------

    def _private_key(self) -> Any:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        if self._key is not None:
            return self._key
        if not self.path.exists():
            self._create()
        data = self.path.read_bytes()
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except ValueError:
            raise WorkbenchError(f"The signing key {self.path} cannot be read; restore it from a backup.") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise WorkbenchError(f"The signing key {self.path} is not an Ed25519 key; restore it from a backup.")
        self._key = key
        return key

    def _create(self) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        temp = self.path.with_name(f".tmp-{os.getpid()}-{self.path.name}")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(pem)
                out.flush()
                os.fsync(out.fileno())
            with contextlib.suppress(FileExistsError):  # never replace a key another process created meanwhile
                os.link(temp, self.path)
        finally:
            temp.unlink(missing_ok=True)

    def _own_raw(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        public = self._private_key().public_key()
        raw: bytes = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return raw

    def own(self) -> PublicKey:
        """The workspace's public key (the private key is created on first use)."""
        raw = self._own_raw()
        name = _default_name()
        return PublicKey(_key_id(raw), name, f"{KEY_PREFIX} {base64.b64encode(raw).decode()} {name}", own=True)

    def sign(self, header: dict[str, Any]) -> dict[str, Any]:
        """The signature to put in `header` under "signature" (over every other field)."""
        raw = self._own_raw()
        value = self._private_key().sign(_payload(header))
        return {"algorithm": ALGORITHM, "key_id": _key_id(raw), "value": base64.b64encode(value).decode()}

    # trusted keys ------------------------------------------------------------------------------

    def trusted(self) -> list[PublicKey]:
        """The workspace's own key, then every key it trusts."""
        rows = key_rows.list_keys(self.workspace.store.conn)
        others = [PublicKey(r["key_id"], r["name"], r["public_key"], added_at=r["added_at"]) for r in rows]
        return [self.own(), *others]

    def trust(self, text: str, name: str | None = None) -> PublicKey:
        """Trust the public key `text` (its one-line form) to sign archives this workspace imports."""
        key = parse_public_key(text, name)
        if key.key_id == self.own().key_id:
            raise InvalidInputError("That is this workspace's own key; it is trusted already.")
        with self.workspace.store.transaction() as conn:
            key_rows.add_key(conn, key.key_id, key.name, key.public_key)
        row = key_rows.get_key(self.workspace.store.conn, key.key_id)
        assert row is not None
        return PublicKey(row["key_id"], row["name"], row["public_key"], added_at=row["added_at"])

    def untrust(self, key_id: str) -> None:
        """Stop trusting a key (versions it signed stay; new imports signed by it are refused)."""
        with self.workspace.store.transaction() as conn:
            removed = key_rows.remove_key(conn, key_id.strip())
        if not removed:
            raise NotFoundError(f"No trusted key has the id {key_id[:40]!r}; see `workbench keys list`.")

    def _public_raw(self, key_id: str) -> tuple[bytes, str] | None:
        own = self.own()
        if key_id == own.key_id:
            return self._own_raw(), own.name
        row = key_rows.get_key(self.workspace.store.conn, key_id)
        if row is None:
            return None
        raw = _b64decode(str(row["public_key"]).split()[1])
        assert raw is not None
        return raw, str(row["name"])

    # the import decision -----------------------------------------------------------------------

    def provenance(self, header: dict[str, Any], archive: Path, *, trust: bool) -> dict[str, Any]:
        """Decide from the header alone whether `archive` may be imported; return the version's provenance.

        Raises SignatureError for a signature that does not verify, and UntrustedArchiveError for an
        unsigned or unknown-signed archive unless `trust` is given."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        signature = header.get("signature")
        if signature is None:
            if not trust:
                raise UntrustedArchiveError(
                    f"{archive.name} is not signed, so nothing shows who made it, and a model archive can run "
                    "code when it is loaded. Ask its sender to export it again with this version of workbench, "
                    "or import it with --trust if you trust where it came from (it stays marked untrusted)."
                )
            return {"origin": "imported", "trusted": False, "signed_by": None, "key_id": None, "reason": "unsigned"}
        key_id = signature["key_id"]
        known = self._public_raw(key_id)
        if known is None:
            if not trust:
                raise UntrustedArchiveError(
                    f"{archive.name} is signed by key {key_id}, which this workspace does not trust. If you "
                    "trust its sender, get their public key (`workbench keys show` on their side) and run "
                    "`workbench keys trust 'KEY'` here, or import it with --trust (it stays marked untrusted)."
                )
            return {
                "origin": "imported",
                "trusted": False,
                "signed_by": None,
                "key_id": key_id,
                "reason": "signed by an unknown key",
            }
        raw, name = known
        value = _b64decode(signature["value"])
        try:
            Ed25519PublicKey.from_public_bytes(raw).verify(value or b"", _payload(header))
        except InvalidSignature:
            raise SignatureError(
                f"{archive.name} is refused: its signature by {name} (key {key_id}) does not match its content, "
                "so it was changed after it was signed."
            ) from None
        return {"origin": "imported", "trusted": True, "signed_by": name, "key_id": key_id, "reason": "signed"}


def check_signature_field(value: Any) -> bool:
    """Whether a header's "signature" has the shape `Keyring.sign` writes."""
    if not isinstance(value, dict) or set(value) != {"algorithm", "key_id", "value"}:
        return False
    key_id, signature = value["key_id"], value["value"]
    if value["algorithm"] != ALGORITHM or not isinstance(key_id, str) or not isinstance(signature, str):
        return False
    raw = _b64decode(signature)
    return len(key_id) == 16 and all(c in "0123456789abcdef" for c in key_id) and raw is not None and len(raw) == 64
