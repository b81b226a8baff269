"""``tenant.config_version``, kept current by triggers.

Workers keep a tenant's enrichment configuration (services, on-call plans,
escalation policies, knowledge rules, runbooks) between batches and reload it
only when this number moved. Triggers bump it in the same transaction as the
change, whatever code (or person, in psql) made it, so a worker never serves a
change it has not seen committed; bumping takes the tenant row's lock, which
serialises concurrent configuration changes of one tenant until they commit.

Incidents count only for what matching reads: an incident with a solution
appearing or going, or its solution or matching rule changing (an agent's
repeat occurrence changes neither).
"""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

from opswatch.migrations import by_dialect

# (table, how a row names its tenant: a column, or the parent table and key to it)
TABLES: list[tuple[str, tuple[str, ...]]] = [
    ("service", ("tenant_id",)),
    ("roster", ("tenant_id",)),
    ("roster_member", ("roster", "roster_id")),
    ("roster_override", ("tenant_id",)),
    ("app_user", ("tenant_id",)),
    ("escalation_policy", ("tenant_id",)),
    ("runbook", ("tenant_id",)),
    ("runbook_service", ("runbook", "runbook_id")),
]
INCIDENT_CHANGED = (
    "(OLD.solution IS DISTINCT FROM NEW.solution "
    "OR OLD.match_rule::text IS DISTINCT FROM NEW.match_rule::text)"
)

POSTGRES_FUNCTION = """
CREATE OR REPLACE FUNCTION opswatch_config_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    changed jsonb := to_jsonb(CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END);
BEGIN
    IF TG_NARGS = 0 THEN
        UPDATE tenant SET config_version = config_version + 1
        WHERE id = (changed ->> 'tenant_id')::uuid;
    ELSE
        EXECUTE format(
            'UPDATE tenant SET config_version = config_version + 1 '
            'WHERE id = (SELECT tenant_id FROM %I WHERE id = $1)', TG_ARGV[0]
        ) USING (changed ->> TG_ARGV[1])::uuid;
    END IF;
    RETURN NULL;
END $$
"""


def _postgres() -> list[str]:
    statements = [POSTGRES_FUNCTION]
    for table, tenant in TABLES:
        arguments = ", ".join(f"'{part}'" for part in tenant) if len(tenant) == 2 else ""
        statements.append(
            f"CREATE TRIGGER {table}_config AFTER INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION opswatch_config_changed({arguments})"
        )
    statements += [
        "CREATE TRIGGER incident_config_added AFTER INSERT ON incident FOR EACH ROW "
        "WHEN (NEW.solution IS NOT NULL) EXECUTE FUNCTION opswatch_config_changed()",
        "CREATE TRIGGER incident_config_removed AFTER DELETE ON incident FOR EACH ROW "
        "WHEN (OLD.solution IS NOT NULL) EXECUTE FUNCTION opswatch_config_changed()",
        "CREATE TRIGGER incident_config_changed AFTER UPDATE ON incident FOR EACH ROW "
        f"WHEN {INCIDENT_CHANGED} EXECUTE FUNCTION opswatch_config_changed()",
    ]
    return statements


POSTGRES_REVERSE = [
    *(f"DROP TRIGGER {table}_config ON {table}" for table, _ in TABLES),
    "DROP TRIGGER incident_config_added ON incident",
    "DROP TRIGGER incident_config_removed ON incident",
    "DROP TRIGGER incident_config_changed ON incident",
    "DROP FUNCTION opswatch_config_changed()",
]


def _sqlite_bump(row: str, tenant: tuple[str, ...]) -> str:
    # Only the fixed table and column names above are interpolated.
    if len(tenant) == 1:
        return (
            "UPDATE tenant SET config_version = config_version + 1 "  # noqa: S608
            f"WHERE id = {row}.{tenant[0]};"
        )
    parent, key = tenant
    return (
        "UPDATE tenant SET config_version = config_version + 1 "  # noqa: S608
        f"WHERE id = (SELECT tenant_id FROM {parent} WHERE id = {row}.{key});"
    )


def _sqlite() -> list[str]:
    statements = []
    for table, tenant in TABLES:
        for event, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
            statements.append(
                f"CREATE TRIGGER {table}_config_{event.lower()} AFTER {event} ON {table} "
                f"BEGIN {_sqlite_bump(row, tenant)} END"
            )
    incident = ("tenant_id",)
    statements += [
        "CREATE TRIGGER incident_config_insert AFTER INSERT ON incident "
        f"WHEN NEW.solution IS NOT NULL BEGIN {_sqlite_bump('NEW', incident)} END",
        "CREATE TRIGGER incident_config_delete AFTER DELETE ON incident "
        f"WHEN OLD.solution IS NOT NULL BEGIN {_sqlite_bump('OLD', incident)} END",
        "CREATE TRIGGER incident_config_update AFTER UPDATE ON incident "
        "WHEN OLD.solution IS NOT NEW.solution OR OLD.match_rule IS NOT NEW.match_rule "
        f"BEGIN {_sqlite_bump('NEW', incident)} END",
    ]
    return statements


SQLITE_REVERSE = [
    *(
        f"DROP TRIGGER {table}_config_{event}"
        for table, _ in TABLES
        for event in ("insert", "update", "delete")
    ),
    "DROP TRIGGER incident_config_insert",
    "DROP TRIGGER incident_config_delete",
    "DROP TRIGGER incident_config_update",
]


class Migration(migrations.Migration):
    dependencies = [("models", "0008_retention_indexes")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Tenant",
            name="config_version",
            field=fields.BigIntField(default=0, db_default=0),
        ),
        ops.RunPython(
            by_dialect(_postgres(), _sqlite()), by_dialect(POSTGRES_REVERSE, SQLITE_REVERSE)
        ),
    ]
