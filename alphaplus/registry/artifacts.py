"""Content-addressed artifact store: files named by their SHA-256, never overwritten, verified on load."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

from alphaplus.core.entities import StoredArtifact
from alphaplus.core.errors import ArtifactIntegrityError
from alphaplus.registry import artifact_format


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


class ArtifactStore:
    """Model artifacts under ``root``: ``<sha[:2]>/<sha>.json`` (older versions: ``.joblib``), owner-only."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _ensure_root(self) -> Path:
        _make_private_dir(self.root)
        return self.root.resolve()

    def save(self, obj: Any) -> StoredArtifact:
        """Serialise ``obj`` in the artifact format and store it; returns its path (relative), size and hash."""
        return self.save_bytes(artifact_format.dumps(obj), suffix=artifact_format.SUFFIX)

    def save_bytes(self, data: bytes, *, suffix: str) -> StoredArtifact:
        """Store raw bytes under their hash. An existing file with that hash is kept, not rewritten."""
        if not suffix.startswith(".") or "/" in suffix or len(suffix) > 16:
            raise ArtifactIntegrityError(f"bad artifact suffix {suffix!r}")
        root = self._ensure_root()
        digest = hashlib.sha256(data).hexdigest()
        relative = f"{digest[:2]}/{digest}{suffix}"
        final = root / relative
        _make_private_dir(final.parent)
        if final.exists():
            self.verify(relative, sha256=digest, size=len(data))
            return StoredArtifact(relative, len(data), digest)
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
        return StoredArtifact(relative, len(data), digest)

    def resolve(self, path: str) -> Path:
        """The absolute file of a stored path; refuses any path that leads outside the root
        (absolute paths, '..' steps, and symlinks whose target lies outside)."""
        if not isinstance(path, str) or not path or "\x00" in path or os.path.isabs(path):
            raise ArtifactIntegrityError(f"artifact path {path!r} points outside the artifact root")
        root = self.root.resolve()
        # resolve() follows every symlink, so the check below sees where the path really leads.
        candidate = (root / path).resolve()
        if not candidate.is_relative_to(root) or candidate == root:
            raise ArtifactIntegrityError(f"artifact path {path!r} points outside the artifact root")
        return candidate

    def verify(self, path: str, *, sha256: str, size: int) -> bytes:
        """Read the stored file and check its recorded size and hash; returns its bytes."""
        file = self.resolve(path)
        try:
            actual_size = file.stat().st_size
            if actual_size != size:
                raise ArtifactIntegrityError(
                    f"artifact {path} has {actual_size} bytes, {size} were registered: refusing to load it"
                )
            data = file.read_bytes()
        except FileNotFoundError as e:
            raise ArtifactIntegrityError(f"artifact {path} is missing from {self.root}") from e
        if len(data) != size or hashlib.sha256(data).hexdigest() != sha256:
            raise ArtifactIntegrityError(
                f"artifact {path} does not match its registered SHA-256 ({sha256[:12]}): refusing to load it"
            )
        return data

    def load(self, artifact: StoredArtifact) -> Any:
        """Verify, then rebuild the model from the very bytes verified (data only: nothing in them runs)."""
        data = self.verify(artifact.path, sha256=artifact.sha256, size=artifact.size)
        return artifact_format.loads(data)


def unreferenced_files(root: Path, referenced: set[str], *, older_than_seconds: float, now: float) -> list[Path]:
    """Files under ``root`` no registered version points to, untouched for ``older_than_seconds``.

    They are left by registrations that failed or crashed after the artifact was written (the file is
    written before the registering transaction), and by writes interrupted mid-way (``.incoming-*``).
    The age guard keeps a registration still in flight from losing its file.
    """
    root = Path(root)
    if not root.is_dir():
        return []
    found = []
    for file in root.rglob("*"):
        if not file.is_file() or file.is_symlink():
            continue
        relative = file.relative_to(root).as_posix()
        if relative in referenced:
            continue
        if now - file.stat().st_mtime >= older_than_seconds:
            found.append(file)
    return sorted(found)
