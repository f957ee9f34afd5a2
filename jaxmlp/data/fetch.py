"""Downloading MNIST and Fashion-MNIST: `download`, with every file checked by SHA-256.

Nothing is fetched unless `download` is called (the CLI: ``jaxmlp data download NAME``). Each
file streams into a temporary file beside its destination, is hashed on the way, and is renamed
into place only when the hash matches the table below; otherwise nothing is kept.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from pathlib import Path

from jaxmlp.atomic import create_temporary

from .datasets import IDX_FILES, check_name, download_dir

__all__ = ["MIRRORS", "SHA256", "ChecksumError", "DownloadError", "download"]

#: Download locations, tried in order.
MIRRORS: dict[str, tuple[str, ...]] = {
    "mnist": ("https://ossci-datasets.s3.amazonaws.com/mnist/",
              "https://storage.googleapis.com/cvdf-datasets/mnist/"),
    "fashion-mnist": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                      "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"),
}

#: SHA-256 of the original gz files, checked before a download is kept. MNIST: as listed by
#: tensorflow/datasets (url_checksums/mnist.txt) and other projects for both mirrors.
#: Fashion-MNIST: as published in zalandoresearch/fashion-mnist's README, Keras and
#: tensorflow/datasets. (Debian's dataset-fashion-mnist recompresses the files: its .gz hashes
#: differ, though the decompressed IDX content is the same.)
SHA256: dict[str, tuple[str, ...]] = {
    "mnist": (  # the .gz of each of IDX_FILES, in that order
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    ),
    "fashion-mnist": (
        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    ),
}

_MAX_DOWNLOAD = 64 << 20  # bytes; the largest file is 26 MB
_urlopen = urllib.request.urlopen  # replaced in tests (no network there)


class DownloadError(ConnectionError):
    """A download failed (offline, unreachable mirror, bad response)."""


class ChecksumError(DownloadError):
    """A downloaded file's SHA-256 differs from the table; the file was not kept."""


def download(name: str, data_dir: str | os.PathLike | None = None) -> Path:
    """Download MNIST or Fashion-MNIST's four gz files into ``<dir>/NAME`` and return that folder.

    ``<dir>`` is ``data_dir``, else ``$JAXMLP_DATA``, else jaxmlp's cache. Files already
    present with the right SHA-256 are kept. Each download streams into a temporary file in
    the same folder, is checked against `SHA256`, and only then renamed into place; a
    mismatching file is deleted.

    Raises:
        DownloadError: no mirror could be reached (e.g. offline).
        ChecksumError: a mirror served a file with the wrong SHA-256 (nothing kept).
    """
    check_name(name)
    if name not in MIRRORS:
        raise ValueError(f"{name!r} ships with jaxmlp; there is nothing to download")
    target = download_dir(name, data_dir)
    target.mkdir(parents=True, exist_ok=True)
    filenames = [f"{stem}.gz" for stem in IDX_FILES]
    for filename, digest in zip(filenames, SHA256[name], strict=True):
        dest = target / filename
        if dest.is_file() and hashlib.sha256(dest.read_bytes()).hexdigest() == digest:
            continue
        failures: list[DownloadError] = []
        for mirror in MIRRORS[name]:
            try:
                _fetch(mirror + filename, dest, digest)
                break
            except DownloadError as exc:
                failures.append(exc)
        else:
            kind = ChecksumError if any(isinstance(e, ChecksumError) for e in failures) else (
                DownloadError)
            reasons = "\n  ".join(str(e) for e in failures)
            raise kind(f"could not download {name} file {filename} from any mirror:\n  "
                       f"{reasons}\nThis needs internet access; or copy the four files "
                       f"{', '.join(filenames)} into {target} yourself.")
    return target


def _fetch(url: str, dest: Path, digest: str) -> None:
    """Stream ``url`` into a temporary file beside ``dest``; keep it only if the hash matches."""
    fd, tmp = create_temporary(dest, ".part")  # the mode the umask asks for
    try:
        hasher, size = hashlib.sha256(), 0
        with os.fdopen(fd, "wb") as f:
            try:
                with _urlopen(url, timeout=60) as response:
                    while chunk := response.read(1 << 20):
                        size += len(chunk)
                        if size > _MAX_DOWNLOAD:
                            raise ChecksumError(f"{url}: larger than {_MAX_DOWNLOAD} bytes")
                        hasher.update(chunk)
                        f.write(chunk)
            except (OSError, ValueError, http.client.HTTPException) as exc:
                if isinstance(exc, DownloadError):
                    raise
                reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
                raise DownloadError(f"{url}: {reason}") from exc
        if hasher.hexdigest() != digest:
            raise ChecksumError(f"{url}: SHA-256 {hasher.hexdigest()} is not the expected "
                                f"{digest}; the file was not kept")
        os.replace(tmp, dest)
    finally:
        Path(tmp).unlink(missing_ok=True)
