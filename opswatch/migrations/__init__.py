"""Tortoise migrations, applied in order by ``opswatch db upgrade``.

On SQLite, Tortoise applies an AlterField by rebuilding the table, and the
rebuilt table loses its unique constraints and indexes. Review generated
migrations for AlterField operations that only change a description (an enum
gaining a member does) and drop them: the column type is unchanged.
"""
