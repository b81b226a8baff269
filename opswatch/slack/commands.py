"""``/opswatch search|oncall|ack|resolve|roster`` (spec 1.2), also reached by
mentioning the app (``@OpsWatch oncall``).

Each command answers with a ``Reply``: the HTTP layer or the job sends it as an
ephemeral response, a thread reply, or whatever the surface needs.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.web.async_client import AsyncWebClient

from opswatch.alerts import actions
from opswatch.audit.actor import Actor
from opswatch.errors import OpsWatchError
from opswatch.knowledge import incidents
from opswatch.knowledge.search import Hit, search
from opswatch.models import ActorType, Alert, AlertStatus, Role, Roster, Tenant, User
from opswatch.rosters.oncall import answer, shifts_between
from opswatch.rosters.resolve import Source
from opswatch.slack import blocks
from opswatch.slack.alert_sync import is_new_issue
from opswatch.slack.blocks import escape
from opswatch.slack.people import slack_id_of, user_of

ROSTER_DAYS = 7
MAX_ROSTERS_LISTED = 10
MAX_SHIFTS_LISTED = 40
USAGE = [
    "*OpsWatch commands*",
    "`/opswatch search <query>`: search the knowledge base (top 3)\n"
    "`/opswatch oncall [roster]`: who is on call now\n"
    "`/opswatch ack <alert-id>`: acknowledge an alert\n"
    "`/opswatch resolve <alert-id> [notes]`: resolve an alert\n"
    "`/opswatch roster [roster]`: the next 7 days of a roster, with overrides\n"
    "`/opswatch promote <alert-id>... [-- title]`: open an incident for these alerts\n"
    "`/opswatch help`: this message",
]


@dataclass(frozen=True)
class Reply:
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Caller:
    """Who typed the command, in Slack and (when known) in OpsWatch."""

    slack_user_id: str
    user: User | None

    def actor(self) -> Actor:
        if self.user is not None:
            return Actor(ActorType.USER, str(self.user.id), self.user.name, "slack")
        return Actor(ActorType.SLACK_USER, self.slack_user_id, None, "slack")


def usage(note: str | None = None) -> Reply:
    lines = ([note] if note else []) + USAGE
    return Reply("\n".join(lines), blocks.text_blocks(lines))


def plain(text: str) -> Reply:
    return Reply(text, blocks.text_blocks([text]))


def split(text: str) -> tuple[str, list[str]]:
    """The subcommand and its arguments; quotes group words ("Global Primary")."""
    try:
        words = shlex.split(text)
    except ValueError:  # an unbalanced quote: take the words as they are
        words = text.split()
    if not words:
        return "", []
    return words[0].lower(), words[1:]


async def run(
    tenant: Tenant, slack_user_id: str, text: str, client: AsyncWebClient | None
) -> Reply:
    name, args = split(text)
    if name in ("", "help"):
        return usage()
    handler = HANDLERS.get(name)
    if handler is None:
        return usage(f"I don't know `{escape(name)}`.")
    caller = Caller(slack_user_id, await user_of(tenant, slack_user_id, client))
    try:
        return await handler(tenant, caller, args, client)
    except OpsWatchError as error:
        return plain(f"⚠️ {escape(error.message)}")


async def _search(
    tenant: Tenant, caller: Caller, args: list[str], client: AsyncWebClient | None
) -> Reply:
    query = " ".join(args).strip()
    if not query:
        return usage("Tell me what to search for: `/opswatch search <query>`.")
    hits = await search(tenant, query, first=3)
    results = [(h.title, h.severity, highlighted(h), knowledge_value(h)) for h in hits]
    text = f"{len(hits)} knowledge result(s) for {query}"
    return Reply(text, blocks.knowledge_results(results, query))


def highlighted(hit: Hit) -> str:
    if not hit.preview:
        return "_no solution recorded yet_"
    if hit.highlight is None:
        return escape(hit.preview)
    start, end = hit.highlight
    text = hit.preview
    return escape(text[:start]) + f"*{escape(text[start:end])}*" + escape(text[end:])


def knowledge_value(hit: Hit) -> str:
    """What the View Full button carries: which entry to show in full."""
    return f"{hit.kind}:{hit.id}"


async def _oncall(
    tenant: Tenant, caller: Caller, args: list[str], client: AsyncWebClient | None
) -> Reply:
    rosters = await _rosters(tenant, " ".join(args))
    if isinstance(rosters, Reply):
        return rosters
    now = datetime.now(UTC)
    lines = []
    for roster in rosters:
        found = await answer(roster, now)
        name = roster.name
        if found.holder_roster.id != roster.id:
            name += f" ({found.holder_roster.name})"
        if found.user is None:
            lines.append(f"*{escape(name)}*: nobody is on call")
            continue
        who = await _who(found.user, client)
        zone = ZoneInfo(found.user.timezone)
        local = now.astimezone(zone).strftime("%H:%M")
        if found.shift.open_end:
            ends = "no handoff scheduled"
        else:
            end = found.shift.end.astimezone(zone)
            ends = f"shift ends {end:%a %d %b %H:%M} ({found.user.timezone})"
        gap = " · _outside every coverage window_" if found.shift.holding.coverage_gap else ""
        lines.append(
            f"*{escape(name)}*: {who} · {found.user.timezone} · local time {local} · {ends}{gap}"
        )
    return Reply("\n".join(lines), blocks.text_blocks(["📟 *On call now*", *lines]))


async def _roster(
    tenant: Tenant, caller: Caller, args: list[str], client: AsyncWebClient | None
) -> Reply:
    rosters = await _rosters(tenant, " ".join(args))
    if isinstance(rosters, Reply):
        return rosters
    start = datetime.now(UTC)
    end = start + timedelta(days=ROSTER_DAYS)
    sections = []
    for roster in rosters:
        shifts = await shifts_between(roster, start, end)
        people = {u.id: u for u in await User.filter(id__in=_holders(shifts))}
        zone = ZoneInfo(roster.timezone)
        lines = [f"🗓️ *{escape(roster.name)}*: next {ROSTER_DAYS} days ({roster.timezone})"]
        for shift in shifts[:MAX_SHIFTS_LISTED]:
            holder = people.get(shift.holding.user_id) if shift.holding.user_id else None
            who = await _who(holder, client) if holder else "nobody"
            since = (
                "now" if shift.start <= start else f"{shift.start.astimezone(zone):%a %d %b %H:%M}"
            )
            until = "…" if shift.open_end else f"{shift.end.astimezone(zone):%a %d %b %H:%M}"
            mark = " _(override)_" if shift.holding.source is Source.OVERRIDE else ""
            lines.append(f"• {since} to {until}: {who}{mark}")
        if len(shifts) > MAX_SHIFTS_LISTED:
            lines.append(f"• and {len(shifts) - MAX_SHIFTS_LISTED} more shifts")
        sections.append("\n".join(lines))
    return Reply("\n\n".join(sections), blocks.text_blocks(sections))


def _holders(shifts: list[Any]) -> list[Any]:
    return [s.holding.user_id for s in shifts if s.holding.user_id is not None]


async def _who(user: User, client: AsyncWebClient | None) -> str:
    slack_id = await slack_id_of(user, client) if client is not None else user.slack_user_id
    return blocks.mention(slack_id, user.name)


async def _rosters(tenant: Tenant, wanted: str) -> list[Roster] | Reply:
    """Top-level rosters, or the one named (exactly, else by a unique prefix)."""
    rosters = list(await Roster.filter(tenant=tenant, parent_id=None).order_by("name").limit(200))
    if not rosters:
        return plain("There are no rosters yet.")
    wanted = wanted.strip().lower()
    if not wanted:
        return rosters[:MAX_ROSTERS_LISTED]
    exact = [r for r in rosters if r.name.lower() == wanted]
    matches = exact or [r for r in rosters if r.name.lower().startswith(wanted)]
    if len(matches) == 1:
        return matches
    names = ", ".join(r.name for r in (matches or rosters)[:MAX_ROSTERS_LISTED])
    if matches:
        return plain(f"“{escape(wanted)}” matches several rosters: {escape(names)}.")
    return plain(f"No roster is named “{escape(wanted)}”. Rosters: {escape(names)}.")


async def _open_alert(tenant: Tenant, caller: Caller, args: list[str], how: str) -> Alert | Reply:
    """The unresolved alert the arguments name, if the caller may change it; else the answer."""
    if not args:
        return usage(f"Which alert? `/opswatch {how}`.")
    refused = refusal(caller)
    if refused:
        return refused
    alert = await actions.get_alert(tenant=tenant, alert_id=args[0])
    if alert.status is AlertStatus.RESOLVED:
        return plain(f"Alert `{alert.short_id}` *{escape(alert.title)}* is already resolved.")
    return alert


async def _ack(
    tenant: Tenant, caller: Caller, args: list[str], client: AsyncWebClient | None
) -> Reply:
    alert = await _open_alert(tenant, caller, args, "ack <alert-id>")
    if isinstance(alert, Reply):
        return alert
    already = alert.status is AlertStatus.ACKNOWLEDGED
    await actions.acknowledge(alert=alert, user=caller.user, actor=caller.actor())
    if already:
        return plain(f"Alert `{alert.short_id}` *{escape(alert.title)}* was already acknowledged.")
    return plain(f"✅ You acknowledged alert `{alert.short_id}` *{escape(alert.title)}*.")


async def _resolve(
    tenant: Tenant, caller: Caller, args: list[str], client: AsyncWebClient | None
) -> Reply:
    alert = await _open_alert(tenant, caller, args, "resolve <alert-id> [notes]")
    if isinstance(alert, Reply):
        return alert
    notes = " ".join(args[1:]).strip() or None
    await actions.resolve(alert=alert, user=caller.user, notes=notes, actor=caller.actor())
    text = f"✔️ You resolved alert `{alert.short_id}` *{escape(alert.title)}*."
    if await is_new_issue(alert):
        prompt = blocks.resolution_prompt(
            alert.title, str(alert.id), blocks.mention(caller.slack_user_id, None)
        )
        return Reply(text, blocks.text_blocks([text]) + prompt)
    return plain(text)


def refusal(caller: Caller) -> Reply | None:
    """Why the caller may not change alerts, if they may not."""
    if caller.user is None:
        return plain(
            "I can't match your Slack account to an OpsWatch user (by e-mail address). "
            "Ask an OpsWatch admin to add you."
        )
    if not caller.user.role.allows(Role.RESPONDER):
        return plain("Viewers can't change alerts; ask an admin for the responder role.")
    return None


async def _promote(
    tenant: Tenant, caller: Caller, args: list[str], client: AsyncWebClient | None
) -> Reply:
    ids, _, title = " ".join(args).partition("--")
    if not ids.split():
        return usage("Which alerts? `/opswatch promote <alert-id>... [-- title]`.")
    refused = refusal(caller)
    if refused:
        return refused
    incident = await incidents.promote(
        tenant=tenant,
        alert_ids=ids.split(),
        title=title.strip() or None,
        user=caller.user,
        actor=caller.actor(),
    )
    return plain(
        f"🚨 Incident *{escape(incident.title)}* is open; its war room thread follows "
        "in the alerts' channel."
    )


HANDLERS = {
    "search": _search,
    "oncall": _oncall,
    "ack": _ack,
    "resolve": _resolve,
    "roster": _roster,
    "promote": _promote,
}
