"""Model registry, model bundles, stored suggestions and the embedding cache of a
project database.

Split from :mod:`isp_nlp.store.database`: :class:`ModelTables` is mixed into
:class:`isp_nlp.store.database.Store`, which supplies ``conn``, ``path`` and
``transaction()``.

A model bundle (the files :meth:`isp_nlp.suggest.bundle.SuggesterModel.save` writes) is
saved with :meth:`ModelTables.save_model_bundle` and read back as a local folder with
:meth:`ModelTables.model_bundle`, on either backend: a project in ``project.sqlite``
keeps it under ``models/<model id>/`` in its folder; a project on PostgreSQL keeps the
files in ``model_files`` and materialises them into this machine's cache
(:mod:`isp_nlp.store.bundles`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import numpy as np

from isp_nlp.errors import ModelError, ProjectError
from isp_nlp.records import Evidence, Suggestion, SuggestionRow
from isp_nlp.store import bundles
from isp_nlp.store.backend import POSTGRES, Connection, Cursor, begin_write, dialect
from isp_nlp.store.connection import lock_timeout
from isp_nlp.store.postgres import PgConnection

#: Suffix of the run id a model's out-of-fold suggestions are stored under; the run is
#: registered in ``out_of_fold_runs``, so read it with :meth:`ModelTables.out_of_fold`.
CV_SUFFIX = "/cv"


def now() -> str:
    """Current UTC time as ISO 8601 with microseconds."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def row_id(cursor: Cursor) -> int:
    """The id an ``INSERT ... RETURNING id`` just wrote (the statement is read to its
    end, so it is finished before the transaction commits)."""
    rows = cursor.fetchall()
    if len(rows) != 1:
        raise RuntimeError("the INSERT wrote no row")
    return int(rows[0][0])


class ModelTables:
    """Trained models and their suggestions (a mixin of Store)."""

    conn: Connection
    path: Path

    def transaction(self) -> AbstractContextManager[Connection]:
        """Supplied by Store: an IMMEDIATE transaction."""
        raise NotImplementedError

    def register_model(self, model_id: str, path: str, manifest: Mapping) -> None:
        """Record (or update) model ``model_id``: its folder ``path`` relative to the
        project folder (on PostgreSQL only a name: the files are in ``model_files``) and
        its manifest. :meth:`save_model_bundle` registers a new model with its files."""
        with self.transaction() as conn:
            _register(conn, model_id, path, manifest)

    def save_model_bundle(self, model_id: str, files: Mapping[str, bytes] | Path,
                          manifest: Mapping) -> Path:
        """Keep the files of model ``model_id`` (a mapping of file name to content, or a
        folder holding them) and register it with ``manifest``; return a local folder
        holding the files, ready to load.

        ``project.sqlite``: the files go to ``models/<model id>/`` in the project folder
        (written beside it and renamed into place; a folder that already is that one is
        registered as it is). PostgreSQL: the files go to ``model_files`` in the same
        transaction as the registration, and into this machine's cache."""
        bundles.check_model_id(model_id)
        relative = f"models/{model_id}"
        target = self.path.parent / relative
        if isinstance(files, Path):
            same = dialect(self.conn) != POSTGRES and files.resolve() == target.resolve()
            contents = {} if same else bundles.read_folder(files)
        else:
            same, contents = False, dict(files)
        if dialect(self.conn) != POSTGRES:
            if not same:
                bundles.write_folder(target, contents)
            self.register_model(model_id, relative, manifest)
            return target
        rows = [(model_id, name, bundles.sha256(content), content)
                for name, content in sorted(contents.items())]
        with self.transaction() as conn:
            _register(conn, model_id, relative, manifest)
            conn.execute("DELETE FROM model_files WHERE model_id = ?", (model_id,))
            conn.executemany("INSERT INTO model_files(model_id, name, sha256, content)"
                             " VALUES (?,?,?,?)", rows)
        return bundles.write_folder(self.model_cache() / model_id, contents)

    def model_bundle(self, model_id: str) -> Path:
        """A local folder holding model ``model_id``'s files (ModelError when the project
        has no such model). On PostgreSQL the files come from the database into this
        machine's cache, which is reused while every file matches its sha256 and written
        again (atomically) when one is missing or changed."""
        info = self.model(model_id)
        if info is None:
            raise ModelError(f"the project has no model '{model_id}'; run `isp-nlp train`")
        local = self.path.parent / str(info["path"])
        if dialect(self.conn) != POSTGRES:
            return local
        bundles.check_model_id(model_id)
        expected = {str(r[0]): str(r[1]) for r in self.conn.execute(
            "SELECT name, sha256 FROM model_files WHERE model_id = ?", (model_id,))}
        if not expected:
            if local.is_dir():  # trained before models moved into the database
                return local
            raise ModelError(
                f"the files of model '{model_id}' are not in the project's database (it "
                "was trained before isp-nlp kept models there, on another machine); run "
                "`isp-nlp train` again")
        target = self.model_cache() / model_id
        if bundles.intact(target, expected):
            return target
        files: dict[str, bytes] = {}
        for name, digest, content in self.conn.execute(
                "SELECT name, sha256, content FROM model_files WHERE model_id = ?",
                (model_id,)):
            files[name] = bytes(content)
            if bundles.sha256(files[name]) != digest:
                raise ProjectError(
                    f"file {name} of model '{model_id}' in the project's database does not "
                    "match its checksum; run `isp-nlp train` again to store the model anew")
        return bundles.write_folder(target, files)

    def model_cache(self) -> Path:
        """This machine's folder of the project's model bundles (PostgreSQL only)."""
        return bundles.database_folder(cast(PgConnection, self.conn).identity()) / "models"

    def latest_model(self) -> dict | None:
        row = self.conn.execute(
            "SELECT id, path, manifest, created_at FROM models ORDER BY created_at DESC, id"
            " DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        return {"id": row[0], "path": row[1], "manifest": json.loads(row[2]), "created_at": row[3]}

    def model(self, model_id: str) -> dict | None:
        """The registry entry of ``model_id`` (as :meth:`latest_model`), or None."""
        row = self.conn.execute(
            "SELECT id, path, manifest, created_at FROM models WHERE id = ?", (model_id,)
        ).fetchone()
        if row is None:
            return None
        return {"id": row[0], "path": row[1], "manifest": json.loads(row[2]), "created_at": row[3]}

    def replace_suggestions(self, model_id: str, suggestions: Sequence[Suggestion]) -> int:
        """Replace the model's stored suggestions; evidence is stored once per (segment,
        dimension), so every suggestion of a group must carry the same evidence."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM review_scores WHERE model_id = ?", (model_id,))
            return _write_suggestions(conn, model_id, suggestions)

    def replace_out_of_fold(self, model_id: str, suggestions: Sequence[Suggestion]) -> int:
        """Record ``suggestions`` as model ``model_id``'s out-of-fold run (replacing any
        earlier one): each for a seed segment, from a fold that did not see its document."""
        run_id = model_id + CV_SUFFIX
        with self.transaction() as conn:
            conn.execute("INSERT INTO out_of_fold_runs(model_id, run_id) VALUES (?, ?)"
                         " ON CONFLICT (model_id) DO UPDATE SET run_id = excluded.run_id",
                         (model_id, run_id))
            return _write_suggestions(conn, run_id,
                                      [replace(s, model_id=run_id) for s in suggestions])

    def out_of_fold(self, model_id: str, *, with_evidence: bool = True) -> list[Suggestion]:
        """Model ``model_id``'s out-of-fold suggestions (empty: none were recorded)."""
        row = self.conn.execute("SELECT run_id FROM out_of_fold_runs WHERE model_id = ?",
                                (model_id,)).fetchone()
        return [] if row is None else self.suggestions(row[0], with_evidence=with_evidence)

    def suggested_segments(self, model_id: str) -> set[str]:
        """The segments the model's stored suggestions cover."""
        return {r[0] for r in self.conn.execute(
            "SELECT DISTINCT segment_id FROM suggestions WHERE model_id = ?", (model_id,))}

    def suggestions(self, model_id: str, *, with_evidence: bool = True) -> list[Suggestion]:
        """The model's stored suggestions; ``with_evidence=False`` skips reading the
        exemplars (much faster, for exports and summaries)."""
        evidence = self.suggestion_evidence(model_id) if with_evidence else {}
        return [Suggestion(segment_id=r[0], model_id=model_id, dimension=r[1], label=r[2],
                           probability=r[3], suggested=r[4],
                           evidence=evidence.get((r[0], r[1]), ()))
                for r in self.suggestion_rows(model_id)]

    def suggestion_rows(self, model_id: str, segment_ids: Sequence[str] | None = None
                        ) -> list[SuggestionRow]:
        """The model's stored suggestions without evidence (of ``segment_ids`` only, when
        given), by segment, dimension and falling probability: the fast read for a review
        queue of many thousand segments."""
        sql = ("SELECT segment_id, dimension, label, probability, suggested FROM suggestions"
               " WHERE model_id = ?")
        order = " ORDER BY segment_id, dimension, probability DESC"
        if segment_ids is None:
            rows = list(self.conn.execute(sql + order, (model_id,)))
        else:
            ids, rows = list(dict.fromkeys(segment_ids)), []
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                rows += self.conn.execute(
                    sql + f" AND segment_id IN ({','.join('?' * len(chunk))})" + order,
                    (model_id, *chunk))
            rows.sort(key=lambda r: r[0])  # stable: each segment's rows keep their order
        return [SuggestionRow(r[0], r[1], r[2], r[3], r[4] == 1) for r in rows]

    def review_scores_kept(self, model_id: str) -> bool:
        """Whether the review queue's scores of the model's suggestions are stored."""
        return self.conn.execute("SELECT 1 FROM review_scores WHERE model_id = ? LIMIT 1",
                                 (model_id,)).fetchone() is not None

    def keep_review_scores(self, model_id: str, scores: Sequence[tuple[str, float]]) -> None:
        """Store the review queue's (segment id, score) pairs of the model's suggestions,
        replacing those stored before."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM review_scores WHERE model_id = ?", (model_id,))
            conn.executemany("INSERT INTO review_scores VALUES (?,?,?)",
                             [(model_id, seg, float(score)) for seg, score in scores])

    def first_by_score(self, model_id: str, order: str, limit: int) -> list[str]:
        """The ids of the first ``limit`` segments of the model's stored review scores, by
        ``order``: ``uncertain`` (highest score first), ``confident`` (lowest first) or
        ``document`` (by document name and position); ties by document and position, as
        the review queue's sorters break them."""
        by = {"uncertain": "r.score DESC, t.document, s.idx",
              "confident": "r.score, t.document, s.idx",
              "document": "t.document, s.idx"}[order]
        return [r[0] for r in self.conn.execute(
            "SELECT r.segment_id FROM review_scores r JOIN segments s ON s.id = r.segment_id"
            " JOIN transcripts t ON t.id = s.transcript_id WHERE r.model_id = ?"
            f" ORDER BY {by} LIMIT ?", (model_id, limit))]

    def suggestion_evidence(self, model_id: str, segment_id: str | None = None
                            ) -> dict[tuple[str, str], tuple[Evidence, ...]]:
        """(segment id, dimension) → the exemplars behind the model's suggestions there,
        nearest first; of one segment only when ``segment_id`` is given."""
        sql = ("SELECT segment_id, dimension, exemplar_id, similarity, text, labels"
               " FROM suggestion_evidence WHERE model_id = ?")
        args: tuple[str, ...] = (model_id,)
        if segment_id is not None:
            sql += " AND segment_id = ?"
            args += (segment_id,)
        out: dict[tuple[str, str], list[Evidence]] = {}
        for r in self.conn.execute(sql + " ORDER BY segment_id, dimension, rank", args):
            out.setdefault((r[0], r[1]), []).append(
                Evidence(segment_id=r[2], similarity=r[3], text=r[4],
                         labels=tuple(json.loads(r[5]))))
        return {key: tuple(got) for key, got in out.items()}


def _register(conn: Connection, model_id: str, path: str, manifest: Mapping) -> None:
    conn.execute(
        "INSERT INTO models(id, path, manifest, created_at) VALUES (?,?,?,?)"
        " ON CONFLICT (id) DO UPDATE SET path = excluded.path,"
        " manifest = excluded.manifest, created_at = excluded.created_at",
        (model_id, path, json.dumps(manifest), now()),
    )


def _write_suggestions(conn: Connection, run_id: str,
                       suggestions: Sequence[Suggestion]) -> int:
    """Replace the suggestions stored under ``run_id`` (inside the caller's transaction)."""
    evidence: dict[tuple[str, str], tuple[Evidence, ...]] = {}
    for s in suggestions:
        key = (s.segment_id, s.dimension)
        if evidence.setdefault(key, s.evidence) != s.evidence:
            raise ValueError(f"suggestions for segment {s.segment_id} ({s.dimension}) "
                             "carry different evidence; expected one list per dimension")
    conn.execute("DELETE FROM suggestions WHERE model_id = ?", (run_id,))
    conn.execute("DELETE FROM suggestion_evidence WHERE model_id = ?", (run_id,))
    conn.executemany(
        "INSERT INTO suggestions VALUES (?,?,?,?,?,?)",
        [(s.segment_id, s.model_id, s.dimension, s.label, float(s.probability),
          int(s.suggested)) for s in suggestions],
    )
    conn.executemany(
        "INSERT INTO suggestion_evidence VALUES (?,?,?,?,?,?,?,?)",
        [(run_id, segment_id, dimension, rank, e.segment_id, float(e.similarity),
          e.text, json.dumps(list(e.labels)))
         for (segment_id, dimension), items in evidence.items()
         for rank, e in enumerate(items)],
    )
    return len(suggestions)


class SqliteEmbeddingCache:
    """Embedding cache keyed by (model id, sha256 of text), stored in the project."""

    _CHUNK = 500

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get_many(self, model_id: str, keys: Sequence[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        keys = list(keys)
        for i in range(0, len(keys), self._CHUNK):
            chunk = keys[i : i + self._CHUNK]
            marks = ",".join("?" * len(chunk))
            for key, blob in self.conn.execute(
                f"SELECT text_sha256, vector FROM embeddings WHERE model_id = ?"
                f" AND text_sha256 IN ({marks})",
                [model_id, *chunk],
            ):
                out[key] = np.frombuffer(blob, dtype=np.float32)
        return out

    def put_many(self, model_id: str, items: Mapping[str, np.ndarray]) -> None:
        rows = [
            (model_id, key, int(vec.shape[-1]), np.asarray(vec, dtype=np.float32).tobytes())
            for key, vec in items.items()
        ]
        conn = self.conn
        begin_write(conn, lock_timeout())
        try:
            conn.executemany("INSERT INTO embeddings VALUES (?,?,?,?) ON CONFLICT"
                             " (model_id, text_sha256) DO UPDATE SET dim = excluded.dim,"
                             " vector = excluded.vector", rows)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
