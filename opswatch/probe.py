"""``python -m opswatch.probe DATABASE_URL REDIS_URL``: exit 0 when both answer.

The test runner and CI use it to decide, loudly, whether the production
backend can be tested.
"""

from __future__ import annotations

import asyncio
import sys

import asyncpg
import redis


async def _postgres(url: str) -> None:
    connection = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1), timeout=5)
    await connection.close()


def main(argv: list[str]) -> int:
    database_url, redis_url = argv
    try:
        asyncio.run(_postgres(database_url))
        redis.Redis.from_url(redis_url, socket_connect_timeout=5).ping()
    except Exception as error:
        print(f"probe: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
