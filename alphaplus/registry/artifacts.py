"""Content-addressed artifact store: files named by their SHA-256, never overwritten, verified on load."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any


from alphaplus.core.entities import StoredArtifact
from alphaplus.core.errors import ArtifactIntegrityError
from alphaplus.registry import artifact_format
from alphaplus.registry.artifact_storage import open_storage


class ArtifactStore:
    """Model artifacts under ``root``, ``<sha[:2]>/<sha><suffix>``: a local folder (owner-only
    permissions) or an object-store URL such as ``s3://bucket/prefix``."""

    def __init__(self, root: Path | str) -> None:
        self.storage = open_storage(root)
        self.root = self.storage.root

    @property
    def location(self) -> str:
        """The root as one string a worker on another host is given: an absolute folder or a URL."""
        return self.storage.location

    def save(self, obj: Any) -> StoredArtifact:
        """Serialise ``obj`` in the artifact format and store it; returns its path (relative), size and hash."""
        return self.save_bytes(artifact_format.dumps(obj), suffix=artifact_format.SUFFIX)

    def save_bytes(self, data: bytes, *, suffix: str) -> StoredArtifact:
        """Store raw bytes under their hash. An existing artifact with that hash is verified and kept,
        not rewritten."""
        if not suffix.startswith(".") or "/" in suffix or len(suffix) > 16:
            raise ArtifactIntegrityError(f"bad artifact suffix {suffix!r}")
        digest = hashlib.sha256(data).hexdigest()
        relative = f"{digest[:2]}/{digest}{suffix}"
        if self.storage.exists(relative):
            self.verify(relative, sha256=digest, size=len(data))
        else:
            self.storage.write_new(relative, data)
        return StoredArtifact(relative, len(data), digest)

    def resolve(self, path: str) -> Any:
        """Where a stored path lives (a local file's absolute Path, or an object's key); refuses any
        path that leads outside the root (absolute paths, '..' steps, symlinks whose target lies
        outside)."""
        return self.storage.locate(path)

    def exists(self, path: str) -> bool:
        return self.storage.exists(path)

    def verify(self, path: str, *, sha256: str, size: int) -> bytes:
        """Read the stored artifact and check its recorded size and hash; returns its bytes."""
        try:
            actual_size = self.storage.size(path)
            if actual_size != size:
                raise ArtifactIntegrityError(
                    f"artifact {path} has {actual_size} bytes, {size} were registered: refusing to load it"
                )
            data = self.storage.read(path)
        except FileNotFoundError as e:
            raise ArtifactIntegrityError(f"artifact {path} is missing from {self.location}") from e
        if len(data) != size or hashlib.sha256(data).hexdigest() != sha256:
            raise ArtifactIntegrityError(
                f"artifact {path} does not match its registered SHA-256 ({sha256[:12]}): refusing to load it"
            )
        return data

    def load(self, artifact: StoredArtifact) -> Any:
        """Verify, then rebuild the model from the very bytes verified (data only: nothing in them runs)."""
        data = self.verify(artifact.path, sha256=artifact.sha256, size=artifact.size)
        return artifact_format.loads(data)


    def unreferenced(self, referenced: set[str], *, older_than_seconds: float, now: float) -> list[str]:
        """Stored paths no registered version points to, untouched for ``older_than_seconds``.

        They are left by registrations that failed or crashed after the artifact was written (it is
        written before the registering transaction), and by local writes interrupted mid-way
        (``.incoming-*``). The age guard keeps a registration still in flight from losing its file.
        """
        return sorted(path for path, modified in self.storage.listing()
                      if path not in referenced and now - modified >= older_than_seconds)

    def remove(self, path: str) -> None:
        """Delete one stored artifact (housekeeping only: a registered artifact is immutable)."""
        self.storage.remove(path)
