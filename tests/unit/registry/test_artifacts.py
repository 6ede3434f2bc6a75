"""The artifact store: owner-only permissions, and no stored path leads outside its root."""

from __future__ import annotations

import os
import stat

import pytest

from alphaplus.registry.artifacts import ArtifactStore
from alphaplus.core.errors import ArtifactIntegrityError


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def loose_umask():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_the_root_its_new_parents_shards_and_files_are_owner_only(tmp_path, loose_umask):
    root = tmp_path / "new" / "deeper" / "artifacts"
    stored = ArtifactStore(root).save_bytes(b"model bytes", suffix=".joblib")
    for directory in (tmp_path / "new", tmp_path / "new" / "deeper", root, (root / stored.path).parent):
        assert mode(directory) == 0o700, directory
    assert mode(root / stored.path) == 0o600


def test_an_existing_root_with_loose_permissions_is_tightened(tmp_path, loose_umask):
    root = tmp_path / "artifacts"
    root.mkdir(mode=0o755)
    os.chmod(root, 0o755)
    ArtifactStore(root).save_bytes(b"x", suffix=".bin")
    assert mode(root) == 0o700


@pytest.mark.parametrize(
    "path", ["../outside.joblib", "ab/../../outside.joblib", "/etc/passwd", "", ".", "ab/\x00.joblib"]
)
def test_paths_leading_outside_the_root_are_refused(tmp_path, path):
    store = ArtifactStore(tmp_path / "artifacts")
    store.save_bytes(b"x", suffix=".bin")
    (tmp_path / "outside.joblib").write_bytes(b"evil")
    with pytest.raises(ArtifactIntegrityError, match="outside the artifact root"):
        store.resolve(path)


def test_a_symlinked_file_pointing_outside_the_root_is_refused(tmp_path):
    store = ArtifactStore(tmp_path / "artifacts")
    good = store.save_bytes(b"x", suffix=".bin")
    outside = tmp_path / "evil.joblib"
    outside.write_bytes(b"evil")
    link = tmp_path / "artifacts" / "ab" / "evil.joblib"
    link.parent.mkdir()
    link.symlink_to(outside)
    with pytest.raises(ArtifactIntegrityError, match="outside the artifact root"):
        store.resolve("ab/evil.joblib")
    import hashlib

    # Even with the right hash and size recorded, it is not read.
    with pytest.raises(ArtifactIntegrityError, match="outside the artifact root"):
        store.verify("ab/evil.joblib", sha256=hashlib.sha256(b"evil").hexdigest(), size=4)
    assert store.verify(good.path, sha256=good.sha256, size=good.size) == b"x"


def test_a_symlinked_directory_pointing_outside_the_root_is_refused(tmp_path):
    store = ArtifactStore(tmp_path / "artifacts")
    store.save_bytes(b"x", suffix=".bin")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "model.joblib").write_bytes(b"evil")
    (tmp_path / "artifacts" / "cd").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(ArtifactIntegrityError, match="outside the artifact root"):
        store.resolve("cd/model.joblib")


def test_a_symlink_staying_inside_the_root_is_followed(tmp_path):
    store = ArtifactStore(tmp_path / "artifacts")
    stored = store.save_bytes(b"kept", suffix=".bin")
    (tmp_path / "artifacts" / "alias.bin").symlink_to(tmp_path / "artifacts" / stored.path)
    assert store.resolve("alias.bin") == (tmp_path / "artifacts" / stored.path).resolve()
