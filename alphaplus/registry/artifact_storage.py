"""Where artifact bytes live: a local folder, or an object store reached through fsspec (``s3://…``).

Both hold bytes under relative names and never write a name in place: a local file is written to a
temporary file, fsynced and hard-linked to its name (the link fails if the name exists); an object is
written with one PUT (or a multipart upload completed in one call), which the store makes visible
whole or not at all. So no reader, and no registration, ever sees a half-written artifact. Hashing,
naming and verification live in :mod:`alphaplus.registry.artifacts`, above this byte level.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alphaplus.core.errors import ArtifactIntegrityError, ArtifactStorageError
from alphaplus.core.settings import is_url


def open_storage(root: Path | str) -> "LocalFolder | ObjectStore":
    """The storage of an artifact root: an object store for a URL, else a local folder."""
    if is_url(root):
        return ObjectStore(str(root))
    text = str(root)
    return LocalFolder(Path(text.removeprefix("file://") if text.startswith("file://") else text))


def _outside(path: object) -> ArtifactIntegrityError:
    return ArtifactIntegrityError(f"artifact path {path!r} points outside the artifact root")


def _make_private_dir(path: Path) -> None:
    """Create ``path`` and any missing parents as 0700 (mkdir's mode applies only to the last
    one, and the umask narrows it); a root this process owns is tightened to 0700 as well."""
    missing = []
    current = Path(path)
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=0o700)
        except FileExistsError:
            pass  # a concurrent writer made it
        os.chmod(directory, 0o700)
    st = Path(path).stat()
    if st.st_uid == os.geteuid() and st.st_mode & 0o077:
        os.chmod(path, 0o700)


class LocalFolder:
    """Artifacts in a folder of this host: owner-only folders (0700) and files (0600)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def location(self) -> str:
        """The absolute folder, as text (what a worker elsewhere would be told to write to)."""
        return str(self.root.resolve())

    def locate(self, path: str) -> Path:
        """The absolute file of a stored path; refuses any path that leads outside the root
        (absolute paths, '..' steps, and symlinks whose target lies outside)."""
        if not isinstance(path, str) or not path or "\x00" in path or os.path.isabs(path):
            raise _outside(path)
        root = self.root.resolve()
        # resolve() follows every symlink, so the check below sees where the path really leads.
        candidate = (root / path).resolve()
        if not candidate.is_relative_to(root) or candidate == root:
            raise _outside(path)
        return candidate

    def exists(self, path: str) -> bool:
        return self.locate(path).exists()

    def size(self, path: str) -> int:
        """Bytes stored under ``path``; FileNotFoundError when nothing is."""
        return self.locate(path).stat().st_size

    def read(self, path: str) -> bytes:
        return self.locate(path).read_bytes()

    def write_new(self, path: str, data: bytes) -> None:
        """Write ``data`` under ``path`` unless the name exists (then the existing file is kept)."""
        _make_private_dir(self.root)
        final = self.locate(path)
        _make_private_dir(final.parent)
        fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o600)
            try:
                # link() fails if the name exists: a concurrent writer of the same content wins and
                # this copy is dropped; nothing is ever overwritten.
                os.link(tmp, final)
            except FileExistsError:
                pass
        finally:
            os.unlink(tmp)

    def listing(self) -> Iterator[tuple[str, float]]:
        """(relative path, modification time) of every regular file under the root."""
        if not self.root.is_dir():
            return
        for file in self.root.rglob("*"):
            if file.is_file() and not file.is_symlink():
                yield file.relative_to(self.root).as_posix(), file.stat().st_mtime

    def remove(self, path: str) -> None:
        self.locate(path).unlink(missing_ok=True)


class ObjectStore:
    """Artifacts in an object store (``s3://bucket/prefix``; any S3-compatible endpoint).

    Credentials and the endpoint come from the usual places of the store's client (for S3:
    ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL_S3`` for MinIO or Ceph,
    ``~/.aws``), never from AlphaPlus settings. Who may read the objects is the bucket's policy.
    """

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self._fs: Any = None
        self._base = ""

    @property
    def root(self) -> str:
        return self.url

    @property
    def location(self) -> str:
        return self.url

    @property
    def fs(self) -> Any:
        """The fsspec filesystem, made on first use (importing s3fs costs time the CLI's reads skip)."""
        if self._fs is None:
            try:
                from fsspec.core import url_to_fs

                # No listings cache: another host may have written a key since this process looked.
                self._fs, base = url_to_fs(self.url, use_listings_cache=False)
            except ImportError as e:
                raise ArtifactStorageError(
                    f"artifact root {self.url} needs fsspec and its driver: pip install 'alphaplus[s3]' ({e})"
                ) from e
            self._base = base.rstrip("/")
        return self._fs

    def locate(self, path: str) -> str:
        """The key of a stored path under the prefix; refuses absolute keys and '.'/'..' steps (an
        object store has no symlinks, so the name alone decides where it leads)."""
        if not isinstance(path, str) or not path or "\x00" in path or "\\" in path or path.startswith("/"):
            raise _outside(path)
        if any(part in ("", ".", "..") for part in path.split("/")):
            raise _outside(path)
        self.fs  # noqa: B018 - resolves the bucket/prefix the keys live under
        return f"{self._base}/{path}" if self._base else path

    def _call(self, what: str, path: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except FileNotFoundError:
            raise
        except Exception as e:  # noqa: BLE001 - the client's many error types become one domain error
            raise ArtifactStorageError(f"artifact store {self.url}: {what} {path} failed: {e}") from e

    def exists(self, path: str) -> bool:
        key = self.locate(path)
        return bool(self._call("checking", path, self.fs.exists, key))

    def size(self, path: str) -> int:
        key = self.locate(path)
        return int(self._call("reading", path, self.fs.info, key)["size"])

    def read(self, path: str) -> bytes:
        key = self.locate(path)
        return self._call("reading", path, self.fs.cat_file, key)

    def write_new(self, path: str, data: bytes) -> None:
        """One PUT of the whole object: visible complete or not at all. Two writers of one
        content-addressed name write the same bytes, so the later PUT changes nothing."""
        key = self.locate(path)
        try:
            self._call("writing", path, self.fs.pipe_file, key, data)
        except FileNotFoundError as e:  # the bucket itself is missing
            raise ArtifactStorageError(f"artifact store {self.url}: writing {path} failed: {e}") from e

    def listing(self) -> Iterator[tuple[str, float]]:
        found = self._call("listing", self.url, self.fs.find, self._base, detail=True)
        for key, info in found.items():
            if info.get("type", "file") != "file":
                continue
            modified = info.get("LastModified") or info.get("mtime") or info.get("last_modified")
            stamp = modified.timestamp() if hasattr(modified, "timestamp") else float(modified or 0)
            yield key[len(self._base) + 1:] if self._base else key, stamp

    def remove(self, path: str) -> None:
        key = self.locate(path)
        try:
            self._call("removing", path, self.fs.rm_file, key)
        except FileNotFoundError:
            pass
