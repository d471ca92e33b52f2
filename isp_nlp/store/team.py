"""The team of a project on PostgreSQL: who may do what, enforced by the server.

Three group roles per database (role names are cluster-wide, so the database's name is
in theirs): ``isp_<database>_owner``, ``isp_<database>_coder`` and
``isp_<database>_viewer`` (:func:`group_names`). A person is a LOGIN role that is a
member of exactly one of them (:func:`add_member`).

* **owner** owns the project's tables (:func:`setup_team` gives them to the group), so
  its members do everything: change the schema, ingest, train, suggest, import,
  certify; as table owners they are not subject to row-level security.
* **coder** reads every table and writes what review and coding write: ``log``
  (append), ``annotations`` (add, retract), ``codings`` and ``notes``. Row-level
  security lets a coder write only rows whose ``coder`` is the coder's own login
  (``session_user``), so nobody records a decision in another's name, and hides, while a
  blind audit is open, other coders' rows on the audit's segments and the model's
  suggestions, evidence and review scores there (:data:`BLINDED_SQL`).
* **viewer** reads every table and writes none. Viewers are not blinded: blindness
  keeps a coder's codes independent of others', and a viewer records no codes.

An audit is open until a certificate names it (``certificates.audit_id``): ``isp-nlp
certify`` is the owner's statement that the audit's blind codes are in, and the only
end of an audit the project records (an audit has no "closed" flag, and how many blind
coders should code it is not stored).

The policies' helper functions name their tables with the schema, so a coder cannot
hide the audit tables behind temporary tables of the same names.

All of it is plain DDL, re-run safely (:func:`setup_team` is idempotent): ``init
--database`` runs it, ``team add-coder`` runs it first, and opening a project whose
schema is upgraded runs it again for the new tables.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from isp_nlp.errors import IspNlpError, ProjectError
from isp_nlp.store.backend import POSTGRES, Connection, PgError, dialect, table_names


class Store(Protocol):
    """What the team functions use of :class:`isp_nlp.store.database.Store` (named here
    so that this module, which the store's error messages use, does not import it)."""

    conn: Connection

    def transaction(self) -> AbstractContextManager[Connection]: ...

ROLES = ("owner", "coder", "viewer")
DEFAULT_ROLE = "coder"
#: Tables with a ``coder`` column that review and coding write, and what coders may do.
CODER_TABLES: dict[str, tuple[str, ...]] = {
    "annotations": ("INSERT", "UPDATE"),
    "log": ("INSERT",),
    "codings": ("INSERT", "UPDATE", "DELETE"),
    "notes": ("INSERT", "UPDATE", "DELETE"),
}
#: Tables of the model's output per segment, hidden from coders on blinded segments.
SEGMENT_TABLES = ("suggestions", "suggestion_evidence", "review_scores")
#: Per table with a coder column: when a row of another coder is hidden from coders.
BLINDED_SQL = {
    "annotations": "isp_blinded(segment_id)",
    "log": "isp_blinded(segment_id)",
    "codings": 'isp_blinded_span(transcript_id, start, "end")',
    "notes": 'isp_blinded_note(document, start, "end")',
}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.@-]{0,62}")
_RESERVED = {"public", "none", "current_user", "session_user", "current_role", "postgres"}


class TeamError(ProjectError):
    """A team command that cannot run (SQLite project, not the owner, bad name)."""


# -- names -----------------------------------------------------------------
def group_names(database: str) -> dict[str, str]:
    """role → group role name of ``database`` (at most 63 characters; a database name
    that is not plain lower-case ASCII, or is long, gets a short hash so two databases
    never share groups)."""
    base = re.sub(r"[^a-z0-9_]", "_", database.lower())
    if base != database or len(base) > 40:
        base = f"{base[:40]}_{hashlib.sha1(database.encode()).hexdigest()[:8]}"
    return {role: f"isp_{base}_{role}" for role in ROLES}


def check_name(name: str) -> str:
    """``name`` if it can be a person's login role, else TeamError in one sentence."""
    name = name.strip()
    if not _NAME.fullmatch(name) or name.lower() in _RESERVED or name.lower().startswith(
            ("pg_", "isp_")):
        raise TeamError(
            f"{name!r} cannot be a coder's database role; use 1 to 63 letters, digits, "
            "'_', '.', '@' or '-', starting with a letter or '_', and not starting with "
            "pg_ or isp_")
    return name


def _pg(conn: Connection) -> Any:
    """The psycopg connection under ``conn`` (for quoting identifiers)."""
    return conn.raw  # type: ignore[attr-defined]


def _q(conn: Connection, template: str, *names: str, **literals: Any) -> str:
    """``template`` with ``{}`` filled by quoted identifiers and ``{name}`` by literals."""
    from psycopg import sql

    return sql.SQL(template).format(
        *(sql.Identifier(n) for n in names),
        **{k: sql.Literal(v) for k, v in literals.items()}).as_string(_pg(conn))


def _one(conn: Connection, query: str, args: Sequence[Any] = ()) -> Any:
    row = conn.execute(query, tuple(args)).fetchone()
    return None if row is None else row[0]


def _role_exists(conn: Connection, name: str) -> bool:
    return _one(conn, "SELECT 1 FROM pg_roles WHERE rolname = ?", (name,)) is not None


def _in_group(conn: Connection, group: str, name: str) -> bool:
    """Whether ``name`` is a direct member of ``group``."""
    return _one(conn, "SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid"
                      " JOIN pg_roles r ON r.oid = m.member WHERE g.rolname = ?"
                      " AND r.rolname = ?", (group, name)) is not None


def groups(conn: Connection) -> dict[str, str]:
    """role → group role name of the connected database."""
    return group_names(str(_one(conn, "SELECT current_database()")))


def session_role(conn: Connection) -> str:
    """The login role the connection authenticated as (``session_user``)."""
    return str(_one(conn, "SELECT session_user"))


def team_ready(conn: Connection) -> bool:
    """Whether the database's group roles exist (:func:`setup_team` ran)."""
    return dialect(conn) == POSTGRES and _role_exists(conn, groups(conn)["owner"])


# -- setting up --------------------------------------------------------------
def can_create_roles(conn: Connection) -> bool:
    return bool(_one(conn, "SELECT rolsuper OR rolcreaterole FROM pg_roles"
                           " WHERE rolname = current_user"))


def setup_team(conn: Connection) -> dict[str, str]:
    """Create the group roles (if absent), give the project's tables to the owner group
    (the connected role joins it), grant each group its rights and put the row-level
    security policies in place; every step can run again. Run inside a transaction.
    Returns role → group name."""
    names = groups(conn)
    for role in ROLES:
        if not _role_exists(conn, names[role]):
            conn.execute(_q(conn, "CREATE ROLE {} NOLOGIN", names[role]))
    owner, coder, viewer = names["owner"], names["coder"], names["viewer"]
    me = str(_one(conn, "SELECT current_user"))
    if not _in_group(conn, owner, me):  # (a superuser has the rights, not the membership)
        conn.execute(_q(conn, "GRANT {} TO {} WITH ADMIN OPTION", owner, me))
    for group in (coder, viewer):  # so that owners may give and take these roles
        if not _in_group(conn, group, owner):
            conn.execute(_q(conn, "GRANT {} TO {} WITH ADMIN OPTION", group, owner))
    schema = str(_one(conn, "SELECT current_schema()"))
    database = str(_one(conn, "SELECT current_database()"))
    # the owners change the schema (and a table's new owner must be able to create in it)
    conn.execute(_q(conn, "GRANT USAGE, CREATE ON SCHEMA {} TO {}", schema, owner))
    _functions(conn, schema)
    for table in table_names(conn):
        if _one(conn, "SELECT tableowner FROM pg_tables WHERE schemaname = ? AND tablename = ?",
                (schema, table)) != owner:
            conn.execute(_q(conn, "ALTER TABLE {}.{} OWNER TO {}", schema, table, owner))
    for fn in ("isp_blinded(text)", "isp_blinded_span(bigint, bigint, bigint)",
               "isp_blinded_note(text, bigint, bigint)"):
        name, _, args = fn.partition("(")
        conn.execute(_q(conn, "ALTER FUNCTION {}.{}(" + args + " OWNER TO {}",
                        schema, name, owner))
    for group in (coder, viewer):
        conn.execute(_q(conn, "GRANT CONNECT ON DATABASE {} TO {}", database, group))
        conn.execute(_q(conn, "GRANT USAGE ON SCHEMA {} TO {}", schema, group))
        conn.execute(_q(conn, "GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}", schema, group))
        conn.execute(_q(conn, "GRANT EXECUTE ON FUNCTION {}.isp_blinded(text),"
                              " {}.isp_blinded_span(bigint, bigint, bigint),"
                              " {}.isp_blinded_note(text, bigint, bigint) TO {}",
                        schema, schema, schema, group))
    conn.execute(_q(conn, "GRANT USAGE ON ALL SEQUENCES IN SCHEMA {} TO {}", schema, coder))
    present = set(table_names(conn))
    for table, rights in CODER_TABLES.items():
        if table not in present:
            continue
        conn.execute(_q(conn, f"GRANT {', '.join(rights)} ON {{}}.{{}} TO {{}}",
                        schema, table, coder))
        _policies(conn, schema, table, coder, viewer, {
            "isp_coder_reads": ("SELECT", f"coder = session_user OR NOT {BLINDED_SQL[table]}",
                                None),
            "isp_coder_adds": ("INSERT", None, "coder = session_user"),
            "isp_coder_changes": ("UPDATE", "coder = session_user", "coder = session_user"),
            "isp_coder_deletes": ("DELETE", "coder = session_user", None),
        })
    for table in SEGMENT_TABLES:
        if table in present:
            _policies(conn, schema, table, coder, viewer, {
                "isp_coder_reads": ("SELECT", "NOT isp_blinded(segment_id)", None)})
    return names


def _functions(conn: Connection, schema: str) -> None:
    """The blindness tests the policies call (their tables named with the schema)."""
    s = _q(conn, "{}", schema)
    open_audit = (f"NOT EXISTS (SELECT 1 FROM {s}.certificates c"
                  " WHERE c.audit_id = a.audit_id)")
    conn.execute(
        f"CREATE OR REPLACE FUNCTION {s}.isp_blinded(seg TEXT) RETURNS BOOLEAN"
        " LANGUAGE sql STABLE AS $f$ SELECT EXISTS (SELECT 1 FROM"
        f" {s}.audit_segments a WHERE a.segment_id = seg AND {open_audit}) $f$")
    conn.execute(
        f"CREATE OR REPLACE FUNCTION {s}.isp_blinded_span(tid BIGINT, lo BIGINT, hi BIGINT)"
        " RETURNS BOOLEAN LANGUAGE sql STABLE AS $f$ SELECT EXISTS (SELECT 1 FROM"
        f" {s}.segments g JOIN {s}.audit_segments a ON a.segment_id = g.id"
        f' WHERE g.transcript_id = tid AND g.start < hi AND g."end" > lo AND {open_audit}) $f$')
    conn.execute(
        f"CREATE OR REPLACE FUNCTION {s}.isp_blinded_note(doc TEXT, lo BIGINT, hi BIGINT)"
        " RETURNS BOOLEAN LANGUAGE sql STABLE AS $f$ SELECT EXISTS (SELECT 1 FROM"
        f" {s}.transcripts t JOIN {s}.segments g ON g.transcript_id = t.id"
        f" JOIN {s}.audit_segments a ON a.segment_id = g.id WHERE t.document = doc"
        f' AND (lo IS NULL OR hi IS NULL OR (g.start < hi AND g."end" > lo)) AND {open_audit})'
        " $f$")


def _policies(conn: Connection, schema: str, table: str, coder: str, viewer: str,
              policies: dict[str, tuple[str, str | None, str | None]]) -> None:
    """Row-level security on ``table``: the coder group's ``policies`` (name → command,
    USING, WITH CHECK) and the viewers' read-all, replacing those of the same names."""
    conn.execute(_q(conn, "ALTER TABLE {}.{} ENABLE ROW LEVEL SECURITY", schema, table))
    for name, (command, using, check) in {
            **policies, "isp_viewer_reads": ("SELECT", "true", None)}.items():
        group = viewer if name.startswith("isp_viewer") else coder
        conn.execute(_q(conn, "DROP POLICY IF EXISTS {} ON {}.{}", name, schema, table))
        sql = _q(conn, f"CREATE POLICY {{}} ON {{}}.{{}} FOR {command} TO {{}}",
                 name, schema, table, group)
        if using is not None:
            sql += f" USING ({using})"
        if check is not None:
            sql += f" WITH CHECK ({check})"
        conn.execute(sql)


def setup_if_possible(store: Store) -> bool:
    """:func:`setup_team` for a new PostgreSQL project when the connected role may create
    roles (``init --database``), or again by an owner; False (nothing done) on SQLite,
    without that right, or for a team member who is not an owner (a coder running
    ``init`` to point a folder of their own at the project)."""
    if dialect(store.conn) != POSTGRES:
        return False
    if team_ready(store.conn):  # a coder joining the project from a folder of their own
        if not _one(store.conn, "SELECT pg_has_role(session_user, ?, 'MEMBER')",
                    (groups(store.conn)["owner"],)):
            return False
    elif not can_create_roles(store.conn):
        return False
    with store.transaction() as conn:
        setup_team(conn)
    return True


# -- members -----------------------------------------------------------------
def _require_owner(store: Store) -> dict[str, str]:
    """The group names, after checking the project is on PostgreSQL and the connected
    role may manage its team (set up the groups first when they are missing)."""
    conn = store.conn
    if dialect(conn) != POSTGRES:
        raise TeamError("teams need a project on PostgreSQL (`isp-nlp init DIR --database "
                        "URL`), since a project in project.sqlite has no database roles")
    names = groups(conn)
    me = session_role(conn)
    if team_ready(conn):
        if not _one(conn, "SELECT pg_has_role(session_user, ?, 'MEMBER')", (names["owner"],)):
            raise TeamError(f"only the project's owners ({names['owner']}) can change its "
                            f"team, and you are connected as {me}; ask an owner to run it")
    elif not can_create_roles(conn):
        raise TeamError(f"the project's team is not set up and {me} may not create roles; "
                        "ask the database administrator to grant you CREATEROLE, or to run "
                        "this command as a role that has it")
    return names


def add_member(store: Store, name: str, role: str = DEFAULT_ROLE, *,
               password: str | None = None) -> dict[str, Any]:
    """Give ``name`` (a LOGIN role, created if absent, with ``password`` sent already
    hashed) the project's ``role`` and only that. Returns name, role, created."""
    if role not in ROLES:
        raise TeamError(f"{role!r} is not a team role; choose one of {', '.join(ROLES)}")
    name = check_name(name)
    _require_owner(store)
    with store.transaction() as conn:
        names = setup_team(conn)
        created = not _role_exists(conn, name)
        if not created and _one(conn, "SELECT rolsuper FROM pg_roles WHERE rolname = ?",
                                (name,)):
            raise TeamError(f"{name} is a superuser, which no team role can restrict; add "
                            "a role of its own for the person instead")
        if created:
            if not can_create_roles(conn):
                raise TeamError(f"{name} has no database role yet and "
                                f"{session_role(conn)} may not create roles; ask the database "
                                "administrator to create it (or to grant you CREATEROLE)")
            conn.execute(_q(conn, "CREATE ROLE {} LOGIN", name))
        if password is not None:
            hashed = _pg(conn).pgconn.encrypt_password(
                password.encode(), name.encode(), b"scram-sha-256").decode()
            conn.execute(_q(conn, "ALTER ROLE {} PASSWORD {pw}", name, pw=hashed))
        for other in ROLES:
            member = _in_group(conn, names[other], name)
            if other == role and not member:
                conn.execute(_q(conn, "GRANT {} TO {}" + (" WITH ADMIN OPTION" if role == "owner"
                                                          else ""), names[other], name))
            elif other != role and member:
                conn.execute(_q(conn, "REVOKE {} FROM {}", names[other], name))
    return {"name": name, "role": role, "created": created}


def remove_member(store: Store, name: str) -> bool:
    """Take ``name`` out of the project's groups (its login role stays: it may work on
    other databases, and its rows stay attributed to it); False when it was in none."""
    name = check_name(name)
    names = _require_owner(store)
    if name == session_role(store.conn):
        raise TeamError("you cannot remove yourself from the team; ask another owner to")
    removed = False
    with store.transaction() as conn:
        for group in names.values():
            if _in_group(conn, group, name):
                conn.execute(_q(conn, "REVOKE {} FROM {}", group, name))
                removed = True
    return removed


def members(store: Store) -> list[dict[str, str]]:
    """Every member of the project's groups: name and role, by role then name."""
    if dialect(store.conn) != POSTGRES:
        raise TeamError("teams need a project on PostgreSQL (`isp-nlp init DIR --database "
                        "URL`), since a project in project.sqlite has no database roles")
    names = groups(store.conn)
    by_group = {group: role for role, group in names.items()}
    rows = store.conn.execute(
        "SELECT r.rolname, g.rolname FROM pg_auth_members m JOIN pg_roles g ON"
        " g.oid = m.roleid JOIN pg_roles r ON r.oid = m.member WHERE g.rolname IN (?,?,?)",
        tuple(names.values())).fetchall()
    out = [{"name": r[0], "role": by_group[r[1]]} for r in rows if r[0] not in by_group]
    return sorted(out, key=lambda m: (ROLES.index(m["role"]), m["name"]))


# -- who records -------------------------------------------------------------
def may_write(conn: Connection, table: str) -> bool:
    """Whether the connected role may add rows to ``table`` (always on SQLite): a
    coder keeps no cache the owner's commands keep (e.g. ``review_scores``)."""
    if dialect(conn) != POSTGRES:
        return True
    return bool(_one(conn, "SELECT has_table_privilege(current_user, ?, 'INSERT')", (table,)))


def recording_coder(store: Store, coder: str | None, *, required: bool = True) -> str:
    """The name a command records decisions under. On PostgreSQL it is the connection's
    login role: ``coder`` may be left out, and another name is refused (the server would
    refuse it too). On SQLite ``coder`` must be given (``required``; else "" will do)."""
    if dialect(store.conn) != POSTGRES:
        if not required:
            return coder or ""
        if coder is None or not coder.strip():
            raise IspNlpError("give your name with --coder; it is recorded with every "
                              "decision")
        return coder
    me = session_role(store.conn)
    if coder is not None and coder.strip() and coder.strip() != me:
        raise IspNlpError(f"you are connected as {me}, so you record decisions as {me}; "
                          f"drop --coder or connect as {coder.strip()}")
    return me


def refused_write(exc: PgError, role: str | None = None) -> str | None:
    """One sentence for a write the server refused for want of rights (SQLSTATE 42501),
    or None for other errors."""
    if exc.sqlstate != "42501":
        return None
    who = f" {role}" if role else ""
    if "row-level security" in str(exc):
        return (f"the database refused the change: your role{who} may record, change or "
                "remove only its own decisions, codes and notes, not another coder's")
    table = re.search(r"permission denied for (?:table|relation|sequence) (\S+)", str(exc))
    what = f" to {table.group(1)}" if table else ""
    return (f"the database refused the change{what}: your role{who} may not make it in this "
            "project; ask the project's owner for the right role (`isp-nlp team add-coder "
            "NAME --role owner|coder|viewer`)")
