"""Full-text search over knowledge: incidents and runbooks.

PostgreSQL: GIN indexes on the ``simple`` text-search vector of each row's words
(no stemming, so both backends find the same words; prefixes match at query
time). SQLite: FTS5 tables with the unicode61 tokenizer, kept current by
triggers. Each FTS5 table stores its own copy of the words keyed by the row's
id, rather than pointing at the row's rowid, which VACUUM may renumber.

The expressions here are the ones ``opswatch.knowledge.search`` queries with:
PostgreSQL uses an expression index only for the identical expression.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

from opswatch.migrations import by_dialect

INCIDENT_WORDS = (
    "coalesce(title, '') || ' ' || coalesce(summary, '') || ' ' || "
    "coalesce(root_cause, '') || ' ' || coalesce(solution, '') || ' ' || "
    "coalesce(tags::text, '')"
)
RUNBOOK_WORDS = (
    "coalesce(title, '') || ' ' || coalesce(body, '') || ' ' || "
    "coalesce(tags::text, '') || ' ' || coalesce(alertnames::text, '')"
)

POSTGRES = [
    f"CREATE INDEX incident_words ON incident USING GIN (to_tsvector('simple', {INCIDENT_WORDS}))",
    f"CREATE INDEX runbook_words ON runbook USING GIN (to_tsvector('simple', {RUNBOOK_WORDS}))",
]
POSTGRES_REVERSE = ["DROP INDEX incident_words", "DROP INDEX runbook_words"]


def _fts5(table: str, columns: list[str]) -> list[str]:
    # Only the fixed table and column names above are interpolated.
    listed = ", ".join(columns)
    new = ", ".join(f"new.{c}" for c in columns)
    fts = f"{table}_fts"
    copy = f"INSERT INTO {fts} (id, {listed}) VALUES (new.id, {new});"  # noqa: S608
    forget = f"DELETE FROM {fts} WHERE id = old.id;"  # noqa: S608
    return [
        f"CREATE VIRTUAL TABLE {fts} USING fts5(id UNINDEXED, {listed}, tokenize = 'unicode61')",
        f"INSERT INTO {fts} (id, {listed}) SELECT id, {listed} FROM {table}",  # noqa: S608
        f"CREATE TRIGGER {fts}_insert AFTER INSERT ON {table} BEGIN {copy} END",
        f"CREATE TRIGGER {fts}_update AFTER UPDATE ON {table} BEGIN {forget} {copy} END",
        f"CREATE TRIGGER {fts}_delete AFTER DELETE ON {table} BEGIN {forget} END",
    ]


SQLITE = _fts5("incident", ["title", "summary", "root_cause", "solution", "tags"]) + _fts5(
    "runbook", ["title", "body", "tags", "alertnames"]
)
SQLITE_REVERSE = [
    f"DROP {kind} {table}_fts{suffix}"
    for table in ("incident", "runbook")
    for kind, suffix in (
        ("TRIGGER", "_insert"),
        ("TRIGGER", "_update"),
        ("TRIGGER", "_delete"),
        ("TABLE", ""),
    )
]


class Migration(migrations.Migration):
    dependencies = [("models", "0006_slack")]

    initial = False

    operations = [
        ops.RunPython(by_dialect(POSTGRES, SQLITE), by_dialect(POSTGRES_REVERSE, SQLITE_REVERSE)),
    ]
