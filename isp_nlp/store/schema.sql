-- isp-nlp project database, schema version 11. Loaded by store/database.py, which also
-- upgrades older versions in place (see MIGRATIONS there).
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS transcripts (
    id INTEGER PRIMARY KEY,
    document TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    source_format TEXT NOT NULL,
    text TEXT NOT NULL,
    turns TEXT NOT NULL,
    unit TEXT NOT NULL,
    warnings TEXT NOT NULL,
    ingested_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS segments (
    id TEXT PRIMARY KEY,
    transcript_id INTEGER NOT NULL REFERENCES transcripts(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    turn_index INTEGER NOT NULL,
    unit TEXT NOT NULL,
    speaker TEXT,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    text TEXT NOT NULL,
    codable INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS segments_by_transcript ON segments(transcript_id, idx);
CREATE TABLE IF NOT EXISTS codebook (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    name TEXT NOT NULL,
    source TEXT NOT NULL,
    loaded_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS codes (
    id TEXT NOT NULL,
    dimension TEXT NOT NULL,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    parent TEXT,
    definition TEXT NOT NULL,
    include TEXT NOT NULL,
    exclude TEXT NOT NULL,
    examples TEXT NOT NULL,
    color TEXT NOT NULL DEFAULT '',
    guid TEXT NOT NULL DEFAULT '',
    exclusive INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (dimension, id)
);
-- The codebook's single-choice dimensions. Their values are the codes rows whose
-- dimension is the dimension's id. unordered is a JSON list of value ids outside the order.
CREATE TABLE IF NOT EXISTS dimensions (
    id TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    definition TEXT NOT NULL DEFAULT '',
    ordered INTEGER NOT NULL DEFAULT 0,
    pathway INTEGER NOT NULL DEFAULT 0,
    unordered TEXT NOT NULL DEFAULT '[]',
    guid TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    coder TEXT NOT NULL,
    action TEXT NOT NULL,
    item_key TEXT,
    segment_id TEXT,
    model_id TEXT,
    detail TEXT NOT NULL,
    undoes INTEGER REFERENCES log(id),
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS log_by_coder ON log(coder, id);
CREATE TABLE IF NOT EXISTS annotations (
    id INTEGER PRIMARY KEY,
    segment_id TEXT NOT NULL REFERENCES segments(id),
    coder TEXT NOT NULL,
    dimension TEXT NOT NULL,
    label TEXT,
    source TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by INTEGER REFERENCES log(id),
    retracted_by INTEGER REFERENCES log(id)
);
CREATE INDEX IF NOT EXISTS annotations_active ON annotations(segment_id, coder)
    WHERE retracted_by IS NULL;
CREATE TABLE IF NOT EXISTS embeddings (
    model_id TEXT NOT NULL,
    text_sha256 TEXT NOT NULL,
    dim INTEGER NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (model_id, text_sha256)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS models (
    id TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    manifest TEXT NOT NULL,
    created_at TEXT NOT NULL
);
-- The files of a model bundle, on a project kept on PostgreSQL (a project in
-- project.sqlite keeps them under models/ in its folder and leaves this table empty).
CREATE TABLE IF NOT EXISTS model_files (
    model_id TEXT NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    content BLOB NOT NULL,
    PRIMARY KEY (model_id, name)
);
CREATE TABLE IF NOT EXISTS suggestions (
    segment_id TEXT NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
    model_id TEXT NOT NULL,
    dimension TEXT NOT NULL,
    label TEXT NOT NULL,
    probability REAL NOT NULL,
    suggested INTEGER NOT NULL,
    PRIMARY KEY (model_id, segment_id, dimension, label)
);
-- The out-of-fold run of a model: the suggestions train made for the seed segments, each
-- from a fold that did not see its document, stored in suggestions under run_id.
CREATE TABLE IF NOT EXISTS out_of_fold_runs (
    model_id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL UNIQUE
);
-- The review queue's score of each segment a model suggested on (isp_nlp.review.items:
-- how informative a coder's verdict would be), written by the first review that builds
-- the whole queue and dropped with the model's suggestions, so later reviews draw their
-- first segment without reading every suggestion.
CREATE TABLE IF NOT EXISTS review_scores (
    model_id TEXT NOT NULL,
    segment_id TEXT NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
    score REAL NOT NULL,
    PRIMARY KEY (model_id, segment_id)
);
CREATE INDEX IF NOT EXISTS review_scores_by_score ON review_scores(model_id, score);
-- The nearest coded exemplars behind a segment's suggestions, once per (model, segment,
-- dimension) rather than in every per-code row. labels is a JSON list of the exemplar's
-- labels on that dimension.
CREATE TABLE IF NOT EXISTS suggestion_evidence (
    model_id TEXT NOT NULL,
    segment_id TEXT NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
    dimension TEXT NOT NULL,
    rank INTEGER NOT NULL,
    exemplar_id TEXT NOT NULL,
    similarity REAL NOT NULL,
    text TEXT NOT NULL,
    labels TEXT NOT NULL,
    PRIMARY KEY (model_id, segment_id, dimension, rank)
);
-- People whose codings the project holds (REFI-QDA users). Coder names elsewhere are
-- these names. guid and initials are empty for coders who never came from a QDA tool.
CREATE TABLE IF NOT EXISTS coders (
    name TEXT PRIMARY KEY,
    guid TEXT NOT NULL,
    initials TEXT NOT NULL
);
-- Spans as coders drew them (code-point offsets into transcripts.text), beside the
-- segment-level annotations derived from them for training and agreement.
CREATE TABLE IF NOT EXISTS codings (
    id INTEGER PRIMARY KEY,
    transcript_id INTEGER NOT NULL REFERENCES transcripts(id),
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    dimension TEXT NOT NULL,
    code TEXT NOT NULL,
    coder TEXT NOT NULL,
    source TEXT NOT NULL,
    guid TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (transcript_id, start, "end", dimension, code, coder)
);
CREATE INDEX IF NOT EXISTS codings_by_transcript ON codings(transcript_id, start);
-- Memos and notes as written. document, start and end locate a note attached to a span
-- (document alone: the whole document). dimension and code name the code a memo is on
-- (dimension 'code' for the codebook's codes, else a dimension's id and one of its values).
CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY,
    guid TEXT NOT NULL,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    coder TEXT NOT NULL,
    document TEXT,
    start INTEGER,
    "end" INTEGER,
    created_at TEXT NOT NULL,
    dimension TEXT,
    code TEXT
);
-- Participant or document attributes (REFI-QDA case variables): one value per document
-- and attribute name, kept as text. Names are listed in the order they were first given.
CREATE TABLE IF NOT EXISTS attributes (
    id INTEGER PRIMARY KEY,
    document TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    UNIQUE (document, name)
);
-- Audit samples: a seeded draw of uncoded codable segments, kept in drawn order. A
-- segment id is kept as drawn (no foreign key): re-ingesting a document may drop it.
CREATE TABLE IF NOT EXISTS audits (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    seed INTEGER NOT NULL,
    n INTEGER NOT NULL,
    documents TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS audit_segments (
    audit_id INTEGER NOT NULL REFERENCES audits(id),
    segment_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (audit_id, position)
);
-- Certificates of a model's suggestion threshold on a target ('code' or a dimension id):
-- from the seeds' out-of-fold predictions (audit_id NULL) or from the blind codes of an
-- audit sample of a wave. detail is JSON: confidence, covered segments, agreement, bound.
CREATE TABLE IF NOT EXISTS certificates (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    model_id TEXT NOT NULL,
    audit_id INTEGER REFERENCES audits(id),
    target TEXT NOT NULL,
    detail TEXT NOT NULL,
    created_at TEXT NOT NULL
);
