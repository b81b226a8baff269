"""Signed links to knowledge pages (a runbook, an incident), which open without a login.

They are followed from Slack and from search results, neither of which carries a
session, so the link itself is the credential: ``?t=<tenant id>&sig=<signature>``.
The signed message names the kind of page, the tenant and the key, so a link to
one page never opens another: not another kind's, not another tenant's, not
another key's.
"""

from __future__ import annotations

import uuid
from urllib.parse import quote, urlencode

from opswatch import runtime


def _signed_text(kind: str, tenant_id: uuid.UUID | str, key: uuid.UUID | str) -> str:
    return f"{kind}:{tenant_id}:{key}"


def signed_link(kind: str, tenant_id: uuid.UUID, key: uuid.UUID | str) -> str:
    """``{public_url}/{kind}s/{key}?t=...&sig=...``."""
    current = runtime.current()
    signature = current.secret_box.sign(_signed_text(kind, tenant_id, key))
    query = urlencode({"t": str(tenant_id), "sig": signature})
    return f"{current.settings.public_url}/{kind}s/{quote(str(key), safe='')}?{query}"


def link_matches(kind: str, tenant_id: str, key: str, signature: str) -> bool:
    """Whether ``t`` and ``sig`` of a link are the ones ``signed_link`` made for this page."""
    if not tenant_id or not signature:
        return False
    return runtime.current().secret_box.signature_matches(
        _signed_text(kind, tenant_id, key), signature
    )
