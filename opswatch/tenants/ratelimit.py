"""Per-key request limits (off unless a key has ``rate_limit_per_minute``).

Fixed one-minute windows: counted in Redis when there is one, so every API
process shares the count, and in this process otherwise (the embedded shape
has only one).
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from typing import Any

import redis.asyncio as aioredis

from opswatch import runtime

_local: OrderedDict[tuple[uuid.UUID, int], int] = OrderedDict()
_clients: dict[str, Any] = {}


async def retry_after(key_id: uuid.UUID, limit: int | None) -> int | None:
    """Count one request; None when it is allowed, else seconds until the window resets."""
    if limit is None:
        return None
    now = time.time()
    window = int(now // 60)
    settings = runtime.current().settings
    if settings.redis_url is None:
        count = _local.get((key_id, window), 0) + 1
        _local[(key_id, window)] = count
        while len(_local) > 10_000:
            _local.popitem(last=False)
    else:
        client = _clients.get(settings.redis_url)
        if client is None:
            client = _clients[settings.redis_url] = aioredis.Redis.from_url(settings.redis_url)
        name = f"{settings.redis_namespace}:ratelimit:{key_id}:{window}"
        pipe: Any = client.pipeline(transaction=True)
        async with pipe:
            count, _ = await pipe.incr(name).expire(name, 120).execute()
    if count <= limit:
        return None
    return max(1, 60 - int(now % 60))
