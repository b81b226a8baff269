"""Tortoise migrations, applied in order by ``opswatch db upgrade``.

On SQLite, Tortoise applies an AlterField by rebuilding the table, and the
rebuilt table loses its unique constraints and indexes. Review generated
migrations for AlterField operations that only change a description (an enum
gaining a member does) and drop them: the column type is unchanged.
"""

from typing import Any


def by_dialect(postgres: list[str], sqlite: list[str]) -> Any:
    """A RunPython step running one of two scripts, by the database it migrates
    (for triggers, functions and indexes the two write differently)."""

    async def run(apps: Any, schema_editor: Any) -> None:
        client = schema_editor.client
        statements = sqlite if client.capabilities.dialect == "sqlite" else postgres
        for sql in statements:
            await client.execute_script(sql)

    return run
