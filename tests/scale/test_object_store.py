"""An artifact root on S3 (moto's server on 127.0.0.1): content addressing, verification on load,
refusal of keys outside the prefix, whole-or-nothing writes, housekeeping and registration."""

from __future__ import annotations

import hashlib
import threading
import time

import pytest

from alphaplus.core.errors import ArtifactIntegrityError, ArtifactStorageError
from alphaplus.core.settings import Settings
from alphaplus.registry.artifacts import ArtifactStore


def raw(root: str):
    """The filesystem under the store, to look at or tamper with objects as another client would."""
    store = ArtifactStore(root)
    return store.storage.fs, store.storage.locate


def test_an_artifact_is_stored_under_its_content_address_below_the_prefix(s3_root):
    store = ArtifactStore(s3_root)
    stored = store.save_bytes(b"model bytes", suffix=".joblib")
    digest = hashlib.sha256(b"model bytes").hexdigest()
    assert (stored.path, stored.size, stored.sha256) == (f"{digest[:2]}/{digest}.joblib", 11, digest)
    fs, _ = raw(s3_root)
    bucket_path = s3_root.removeprefix("s3://")
    assert fs.cat_file(f"{bucket_path}/{stored.path}") == b"model bytes"
    assert store.verify(stored.path, sha256=digest, size=11) == b"model bytes"
    assert store.save_bytes(b"model bytes", suffix=".joblib") == stored


def test_the_settings_keep_an_object_store_url_whole(s3_root):
    settings = Settings(artifact_root=s3_root)
    assert settings.artifacts_dir == s3_root
    assert ArtifactStore(settings.artifacts_dir).location == s3_root


def test_a_tampered_object_is_refused_on_load_and_never_silently_rewritten(s3_root):
    store = ArtifactStore(s3_root)
    stored = store.save_bytes(b"the real model", suffix=".bin")
    fs, locate = raw(s3_root)
    fs.pipe_file(locate(stored.path), b"the fake model")  # same size, other bytes
    with pytest.raises(ArtifactIntegrityError, match="does not match its registered SHA-256"):
        store.verify(stored.path, sha256=stored.sha256, size=stored.size)
    with pytest.raises(ArtifactIntegrityError, match="does not match"):
        store.save_bytes(b"the real model", suffix=".bin")
    fs.pipe_file(locate(stored.path), b"short")
    with pytest.raises(ArtifactIntegrityError, match="has 5 bytes, 14 were registered"):
        store.verify(stored.path, sha256=stored.sha256, size=stored.size)


def test_a_missing_object_is_reported_with_the_root(s3_root):
    store = ArtifactStore(s3_root)
    with pytest.raises(ArtifactIntegrityError, match=f"missing from {s3_root}"):
        store.verify("ab/" + "ab" * 32 + ".joblib", sha256="0" * 64, size=3)


@pytest.mark.parametrize(
    "path", ["../outside.joblib", "ab/../../outside.joblib", "/outside.joblib", "", ".", "ab//x.joblib",
             "ab/./x.joblib", "ab/\x00.joblib", "..\\outside.joblib", None]
)
def test_keys_leading_outside_the_prefix_are_refused(s3_root, path):
    store = ArtifactStore(s3_root)
    fs, _ = raw(s3_root)
    bucket = s3_root.removeprefix("s3://").split("/")[0]
    fs.pipe_file(f"{bucket}/outside.joblib", b"evil")  # beside the prefix, in the same bucket
    with pytest.raises(ArtifactIntegrityError, match="outside the artifact root"):
        store.verify(path, sha256=hashlib.sha256(b"evil").hexdigest(), size=4)


def test_an_unreachable_bucket_is_one_clear_error_and_leaves_nothing(s3_env):
    store = ArtifactStore("s3://no-such-bucket-alphaplus/models")
    with pytest.raises(ArtifactStorageError, match="artifact store s3://no-such-bucket-alphaplus/models"):
        store.save_bytes(b"x", suffix=".bin")


def test_readers_see_an_object_whole_or_not_at_all_while_it_is_written(s3_root):
    store = ArtifactStore(s3_root)
    payload = bytes(range(256)) * (24 * 4096)  # 24 MiB: a long upload, read concurrently
    digest = hashlib.sha256(payload).hexdigest()
    path = f"{digest[:2]}/{digest}.bin"
    seen: list[int] = []
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            try:
                data = store.storage.read(path)
            except FileNotFoundError:
                seen.append(0)
                continue
            assert hashlib.sha256(data).hexdigest() == digest, f"read {len(data)} bytes of a partial object"
            seen.append(len(data))
            return

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        stored = store.save_bytes(payload, suffix=".bin")
        time.sleep(0.2)
    finally:
        done.set()
        thread.join(30)
    assert stored.path == path and seen and seen[-1] == len(payload)
    assert set(seen) <= {0, len(payload)}


def test_housekeeping_lists_and_removes_only_old_unreferenced_objects(s3_root):
    store = ArtifactStore(s3_root)
    kept = store.save_bytes(b"registered", suffix=".joblib")
    orphan = store.save_bytes(b"left by a failed registration", suffix=".joblib")
    now = time.time()
    assert store.unreferenced({kept.path}, older_than_seconds=3600, now=now) == []  # too young
    assert store.unreferenced({kept.path}, older_than_seconds=3600, now=now + 7200) == [orphan.path]
    store.remove(orphan.path)
    assert not store.exists(orphan.path) and store.exists(kept.path)


async def test_a_version_registered_on_s3_loads_back_verified(settings, s3_root, model_name):
    from alphaplus.registry.service import Registry
    from tests.db.conftest import make_lineage

    on_s3 = settings.model_copy(update={"artifact_root": s3_root})
    registry = await Registry.open(on_s3)
    reg = await registry.register_model_version(make_lineage(model_name), model={"weights": [1, 2, 3]})
    assert registry.artifacts.exists(reg.version.artifact.path)
    assert await registry.load_model(await registry.get_version(model_name, reg.version.version)) == {"weights": [1, 2, 3]}
    assert not list(settings.home.rglob(f"*{reg.version.artifact.sha256}*"))  # nothing written locally


async def test_a_registration_whose_upload_fails_registers_nothing(settings, s3_env, model_name):
    from alphaplus.registry.service import Registry
    from tests.db.conftest import make_lineage

    registry = await Registry.open(settings.model_copy(update={"artifact_root": "s3://no-such-bucket-alphaplus/m"}))
    with pytest.raises(ArtifactStorageError):
        await registry.register_model_version(make_lineage(model_name), model={"w": 1})
    assert await registry.list_versions(model_name=model_name) == []
