"""The backup file: a ZIP of the dump and manifest.json, encrypted with age as it is written.

The ZIP is streamed through a pipe into pyrage as it is made, so neither the dump nor its
encryption is ever held in memory or written anywhere in the clear: memory stays flat however
large the database. The standard tools open it: ``age -d -i KEY FILE > backup.zip``.
"""

from __future__ import annotations

import hashlib
import os
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pyrage
from pyrage import x25519

CHUNK = 1 << 20


class BackupFileError(Exception):
    """The backup file cannot be written or read; the message says why, in plain words."""


def parse_recipients(lines: list[str], where: str) -> list[x25519.Recipient]:
    """age public keys, one a line; blank lines and # comments skipped (age's -R format)."""
    recipients = []
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            recipients.append(x25519.Recipient.from_str(text))
        except pyrage.RecipientError:
            raise BackupFileError(f"{where}, line {number}: not an age public key (age1...)") from None
    return recipients


def read_identities(path: Path) -> list[x25519.Identity]:
    """The age secret keys in an identity file (age-keygen's output). Never kept anywhere."""
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise BackupFileError(f"cannot read the identity file {path}: {error.__class__.__name__}") from None
    identities = []
    for line in lines:
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            identities.append(x25519.Identity.from_str(text))
        except pyrage.IdentityError:
            raise BackupFileError(
                f"{path} holds something other than age secret keys (AGE-SECRET-KEY-1...); "
                "a passphrase-protected key must be decrypted with age first"
            ) from None
    if not identities:
        raise BackupFileError(f"{path} holds no age secret key")
    return identities


@dataclass
class Member:
    """A file written into the archive: its size and SHA-256, known once it is written."""

    name: str
    bytes: int = 0
    sha256: str = ""


class EncryptedZip:
    """The archive being written: add members with :meth:`stream` and :meth:`add`."""

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self._archive = archive

    def stream(self, name: str, chunks: Iterator[bytes], *, compress: bool = False) -> Member:
        member = Member(name)
        digest = hashlib.sha256()
        info = zipfile.ZipInfo(name)
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        with self._archive.open(info, "w", force_zip64=True) as target:
            for chunk in chunks:
                target.write(chunk)
                digest.update(chunk)
                member.bytes += len(chunk)
        member.sha256 = digest.hexdigest()
        return member

    def add(self, name: str, data: bytes) -> None:
        self._archive.writestr(name, data)


@contextmanager
def encrypted_zip(out: Path, recipients: list[x25519.Recipient]) -> Iterator[EncryptedZip]:
    """Write a ZIP encrypted to ``recipients`` at ``out`` (mode 0600), as a new file: written
    beside it first and moved into place only when whole, so a failed backup leaves nothing."""
    if out.exists():
        raise BackupFileError(f"{out} exists already; name a new file")
    partial = out.with_name(f".{out.name}.partial")
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as error:
        raise BackupFileError(f"cannot write {out}: {error.strerror or error.__class__.__name__}") from None
    read_end, write_end = os.pipe()
    failure: list[BaseException] = []
    with os.fdopen(fd, "wb") as sink, os.fdopen(read_end, "rb") as source:

        def encrypt() -> None:
            try:
                pyrage.encrypt_io(source, sink, recipients)
            except BaseException as error:  # noqa: BLE001 - handed to the writing thread below
                failure.append(error)
                source.close()  # the writer then fails at once instead of waiting on a full pipe

        worker = threading.Thread(target=encrypt, name="backup-age", daemon=True)
        worker.start()
        try:
            with os.fdopen(write_end, "wb") as pipe, zipfile.ZipFile(pipe, "w", compresslevel=1) as archive:
                yield EncryptedZip(archive)
            worker.join()
            if failure:
                raise BackupFileError(f"encrypting the backup failed: {failure[0]}")
            sink.flush()
            os.fsync(sink.fileno())
        except BaseException:
            worker.join(timeout=30)
            partial.unlink(missing_ok=True)
            if failure:  # the writer's error (a broken pipe) follows from the encryption's
                raise BackupFileError(f"encrypting the backup failed: {failure[0]}") from None
            raise
    os.replace(partial, out)


def decrypt(path: Path, identities: list[x25519.Identity], into: Path) -> Path:
    """Decrypt the backup at ``path`` to ``into``/backup.zip (mode 0600); returns its path."""
    target = into / "backup.zip"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with open(path, "rb") as source, os.fdopen(fd, "wb") as sink:
            pyrage.decrypt_io(source, sink, identities)
    except OSError as error:
        raise BackupFileError(f"cannot read {path}: {error.strerror or error.__class__.__name__}") from None
    except pyrage.DecryptError:
        raise BackupFileError(
            f"{path} does not open with the identity given: not a backup made for that key, or damaged"
        ) from None
    return target


def member_chunks(archive: zipfile.ZipFile, name: str) -> Iterator[bytes]:
    with archive.open(name) as member:
        while chunk := member.read(CHUNK):
            yield chunk


def file_chunks(handle: IO[bytes]) -> Iterator[bytes]:
    while chunk := handle.read(CHUNK):
        yield chunk
