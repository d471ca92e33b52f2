"""Model bundles and the embedding cache on both backends: a project in project.sqlite
keeps a bundle under models/ in its folder; a project on PostgreSQL keeps the files in
model_files and materialises them into this machine's cache, checked by sha256."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from isp_nlp.errors import ModelError, ProjectError
from isp_nlp.store.backend import POSTGRES, dialect
from isp_nlp.store.database import Store
from isp_nlp.store.migrations import SCHEMA_VERSION
from isp_nlp.store.postgres import POINTER_NAME, read_pointer, write_pointer

FILES = {"manifest.json": b'{"model_id": "m1"}', "config.json": b'{"k": 3}',
         "weights.npz": bytes(range(256)) * 64}


@pytest.fixture
def machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This machine's cache folder: empty, under XDG_CACHE_HOME."""
    monkeypatch.delenv("ISP_NLP_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    return tmp_path / "xdg-cache" / "isp-nlp"


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_a_bundle_saved_is_read_back_as_a_folder(db_path: Path, machine: Path) -> None:
    with Store.create(db_path) as store:
        saved = store.save_model_bundle("m1", FILES, {"model_id": "m1", "k": 3})
        folder = store.model_bundle("m1")
        assert folder == saved and _files(folder) == FILES
        assert store.model("m1")["manifest"] == {"model_id": "m1", "k": 3}
        if dialect(store.conn) == POSTGRES:
            assert folder.is_relative_to(machine) and not (db_path.parent / "models").exists()
        else:
            assert folder == db_path.parent / "models" / "m1"
            assert not machine.exists()
        with pytest.raises(ModelError, match="no model 'nope'"):
            store.model_bundle("nope")


def test_a_bundle_saved_again_replaces_its_files(db_path: Path, machine: Path,
                                                 tmp_path: Path) -> None:
    source = tmp_path / "trained"
    source.mkdir()
    for name, content in FILES.items():
        (source / name).write_bytes(content)
    with Store.create(db_path) as store:
        store.save_model_bundle("m1", source, {})
        store.save_model_bundle("m1", {"config.json": b"new"}, {"again": True})
        assert _files(store.model_bundle("m1")) == {"config.json": b"new"}


def test_another_machine_sees_the_model_and_a_damaged_cache_is_written_again(
        pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ISP_NLP_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "trainer-cache"))
    here, there = tmp_path / "here", tmp_path / "there"
    for folder in (here, there):
        folder.mkdir()
        write_pointer(folder / POINTER_NAME, pg_url)
    with Store.create(here / POINTER_NAME) as store:
        store.save_model_bundle("m1", FILES, {})
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "coder-cache"))
    with Store.open(there / POINTER_NAME) as store:
        folder = store.model_bundle("m1")
        assert folder.is_relative_to(tmp_path / "coder-cache") and _files(folder) == FILES
        assert store.model_bundle("m1") == folder  # reused while intact
        (folder / "weights.npz").write_bytes(b"truncated")
        (folder / "config.json").unlink()
        assert _files(store.model_bundle("m1")) == FILES
        store.conn.execute("UPDATE model_files SET content = ? WHERE name = 'config.json'",
                           (b"tampered",))
        (folder / "config.json").unlink()
        with pytest.raises(ProjectError, match="config.json of model 'm1'.*checksum"):
            store.model_bundle("m1")
    assert read_pointer(there / POINTER_NAME) == pg_url


def test_a_model_registered_before_its_files_moved_in_says_to_train_again(
        pg_url: str, tmp_path: Path, machine: Path) -> None:
    write_pointer(tmp_path / POINTER_NAME, pg_url)
    with Store.create(tmp_path / POINTER_NAME) as store:
        store.register_model("old", "models/old", {})
        with pytest.raises(ModelError, match="trained before.*isp-nlp train"):
            store.model_bundle("old")
        (tmp_path / "models" / "old").mkdir(parents=True)  # the machine that trained it
        assert store.model_bundle("old") == tmp_path / "models" / "old"


def test_an_unsafe_model_id_is_refused(db_path: Path, machine: Path) -> None:
    with Store.create(db_path) as store, pytest.raises(ProjectError, match="cannot name"):
        store.save_model_bundle("../escape", FILES, {})


def test_version_11_gains_model_files(db_path: Path, machine: Path) -> None:
    with Store.create(db_path) as store:
        store.conn.execute("DROP TABLE model_files")
        store.conn.execute("UPDATE meta SET value = '11' WHERE key = 'schema_version'")
        if dialect(store.conn) != POSTGRES:
            store.conn.commit()  # type: ignore[attr-defined]
    with Store.open(db_path) as store:
        assert store.schema_version() == SCHEMA_VERSION == 12
        store.save_model_bundle("m1", FILES, {})
        assert _files(store.model_bundle("m1")) == FILES


def test_the_embedding_cache_round_trips_vectors(db_path: Path) -> None:
    rng = np.random.default_rng(0)
    first = {f"k{i}": rng.standard_normal(8).astype(np.float32) for i in range(1200)}
    with Store.create(db_path) as store:
        cache = store.embedding_cache()
        cache.put_many("emb", first)
        again = {"k0": np.ones(8, dtype=np.float32), "new": np.zeros(8, dtype=np.float32)}
        cache.put_many("emb", again)  # k0 is replaced, not refused
        got = cache.get_many("emb", [*first, "new", "absent"])
        assert set(got) == {*first, "new"}
        assert np.array_equal(got["k0"], again["k0"])
        assert all(np.array_equal(got[k], v) for k, v in first.items() if k != "k0")
        assert got["k5"].dtype == np.float32 and cache.get_many("other", ["k1"]) == {}
