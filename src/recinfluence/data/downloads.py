"""Downloads: a URL fetched through a temporary name, tried again when the connection fails or
stalls, with its progress logged and its sha256 checked (or logged, with the key that would pin
it)."""

from __future__ import annotations

import hashlib
import http.client
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import TextIO

from ..errors import InputError
from .interactions import _STDERR


def sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_sha256(path: Path, expected: str) -> None:
    actual = sha256(path)
    if actual != expected:
        raise InputError(f"{path}: sha256 {actual} does not match the expected {expected}")


def download(
    url: str,
    dest: str | Path,
    expected_sha256: str | None = None,
    timeout: float = 60.0,
    tries: int = 3,
    backoff: float = 2.0,
    instead: str = "the dataset's path",
    log: TextIO | None = _STDERR,  # type: ignore[assignment]
    pin: str | None = None,
) -> Path:
    """Download ``url`` to ``dest`` through a temporary name, verifying the sha256 if given (if
    not and nothing checks the file later, ``pin`` names the config key that would pin it, and
    ``log`` gets the file's sha256 with that key). A
    connection that fails or stalls for ``timeout`` seconds is tried again, ``tries`` times in
    all (waiting ``backoff``, then twice as long, ...); then one :class:`InputError` names the URL,
    the cause and the way out (set ``instead`` to a local copy). Progress goes to ``log``."""
    log = sys.stderr if log is _STDERR else log
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=dest.parent, delete=False, suffix=".part") as tmp:
        partial = Path(tmp.name)
    try:
        for attempt in range(1, tries + 1):
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response, open(partial, "wb") as out:
                    _copy_with_progress(response, out, url, log)
                break
            except (OSError, http.client.HTTPException) as error:  # URLError, HTTPError and timeouts are OSErrors
                cause = getattr(error, "reason", None) or error
                if attempt == tries:
                    raise InputError(
                        f"{url}: cannot download ({cause}) after {tries} tries; without a network, set {instead} to a "
                        "local copy"
                    ) from None
                if log is not None:
                    print(
                        f"{url}: try {attempt} of {tries} failed ({cause}); again in "
                        f"{backoff * 2 ** (attempt - 1):.0f} s",
                        file=log,
                        flush=True,
                    )
                time.sleep(backoff * 2 ** (attempt - 1))
        actual = sha256(partial) if expected_sha256 or pin else None
        if expected_sha256 and actual != expected_sha256:
            raise InputError(f"{url}: downloaded sha256 {actual} does not match the expected {expected_sha256}")
        if not expected_sha256 and pin and log is not None:
            print(
                f"{url}: sha256 {actual}, not verified (no checksum is published); to pin this copy, set {pin}: "
                f"{actual}",
                file=log,
                flush=True,
            )
        partial.replace(dest)
    finally:
        partial.unlink(missing_ok=True)
    return dest


def _copy_with_progress(response, out, url: str, log, every: float = 10.0) -> None:
    """Copy in 1 MiB blocks; every ``every`` seconds, and at the end of a large file, a line with
    the megabytes done, the rate and the ETA (when the server gives the length)."""
    total = int(response.headers.get("Content-Length") or 0) if getattr(response, "headers", None) else 0
    done, started, printed = 0, time.perf_counter(), time.perf_counter()
    for block in iter(lambda: response.read(1 << 20), b""):
        out.write(block)
        done += len(block)
        now = time.perf_counter()
        if log is not None and now - printed >= every:
            printed = now
            rate = done / max(now - started, 1e-9)
            eta = f", ETA {(total - done) / rate:.0f} s" if total else ""
            of = f" of {total / 1e6:.1f}" if total else ""
            print(f"{url}: {done / 1e6:.1f}{of} MB, {rate / 1e6:.1f} MB/s{eta}", file=log, flush=True)
