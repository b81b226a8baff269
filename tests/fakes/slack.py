"""A fake Slack Web API (and ``response_url`` endpoint) for the real ``slack_sdk``.

Pointing the SDK at it::

    async with FakeSlack() as fake:
        fake.add_workspace("T0001", "xoxb-test", bot_user_id="UBOT")
        client = AsyncWebClient(token="xoxb-test", base_url=fake.url + "/api/")

Every answer is shaped like Slack's: HTTP 200 with ``{"ok": true, ...}`` or
``{"ok": false, "error": "..."}`` (HTTP 429 or 5xx only when injected).

Covers, under ``/api/<method>`` (GET or POST; arguments are read from the query
string, a form body or a JSON body, whichever the caller used):

- ``auth.test``.
- ``chat.postMessage``, ``chat.update``, ``chat.postEphemeral``: messages are recorded
  with every version they had; ``ts`` values are strictly increasing strings
  (``"1700000000.000100"``, ``"1700000000.000200"``, ...). Errors: ``channel_not_found``
  (a channel in ``missing_channels``, or a ``D...`` channel this workspace never
  opened with ``conversations.open``), ``thread_not_found``, ``message_not_found``,
  ``no_text``, ``msg_too_long`` (text over 40,000 characters), ``invalid_blocks``
  (see below) and ``user_not_in_channel`` (an ephemeral for a user not added with
  ``add_user``). ``chat.update`` keeps the text or blocks it is not given, as Slack
  does; ``"blocks": []`` removes the blocks.
- ``conversations.open`` for one user (``users=U...``): one stable ``D...`` channel per
  workspace and user; ``user_not_found`` for a user not added with ``add_user``.
- ``users.lookupByEmail`` (``users_not_found``) and ``users.info`` (``user_not_found``).
- ``views.open``, ``views.push`` (a trigger from ``new_trigger_id()``, usable once:
  ``invalid_trigger_id``, then ``expired_trigger_id``) and ``views.update`` (by
  ``view_id`` or ``external_id``: ``not_found``; a stale ``hash``: ``hash_conflict``).
- ``oauth.v2.access`` with a code from ``add_oauth_code``: client credentials by HTTP
  basic auth (as the SDK sends them) or form fields; ``invalid_client_id``,
  ``bad_client_secret``, ``invalid_code`` (unknown or already used) and
  ``bad_redirect_uri``. Success registers the workspace with the code's bot token.
- Any other method: ``unknown_method``. A missing token: ``not_authed``; an unknown one:
  ``invalid_auth`` (the token is read from ``Authorization: Bearer`` or a ``token``
  argument).

Block Kit limits are checked on messages, ephemerals, views and ``response_url``
posts; the answer is ``{"ok": false, "error": "invalid_blocks", "errors": [...]}``,
each error naming the limit and the JSON pointer of the offending value, as in
``"header text must be at most 150 characters (got 151) [json-pointer:/blocks/0/text/text]"``.
The limits are the ``MAX_*`` constants below; block and element types other than
header, section, actions, context, input, button and plain_text_input are accepted
unchecked. A ``block_id`` must be unique within one message or view, an
``action_id`` within its block (as Slack documents it: two sections may each carry
a button with the same ``action_id``).

``response_url``: ``new_response_url()`` hands out ``{fake.url}/response/<random>``;
JSON posted there is recorded in ``responses[url]`` and answered ``ok`` (text/plain,
200). Unknown paths: 404 ``no_service``; a body that is not a JSON object: 400
``invalid_payload``; bad blocks: 400 ``invalid_blocks``.

Injection (``/api/*`` only, in the order queued): ``rate_limit_next`` (HTTP 429 with
``Retry-After``, body ``{"ok": false, "error": "ratelimited"}``), ``fail_next`` (HTTP
200, ``{"ok": false, "error": ...}``), ``server_error_next`` (5xx) and the base class's
``delay_next``. Injected calls are still recorded in ``calls``.

How the SDK (3.48) sends these methods, which is what the fake was checked against:
``chat.*`` and ``views.*`` as JSON bodies (a ``blocks``/``view`` given to the SDK as a
string stays a JSON string inside the JSON body; the fake parses it);
``auth.test`` and ``conversations.open`` as POSTs with the arguments in the query
string and an empty body; ``users.*`` as GETs; ``oauth.v2.access`` as a form body
with ``Authorization: Basic``.

Not covered: anything else of Slack (files, reactions, channel lists and membership,
pins, scopes per method, Events API and signed requests to the app), channel names
(a channel is used as given, never resolved), multi-person DMs, posting to a user id,
the view stack (``previous_view_id`` is always null), trigger expiry after 3 seconds,
the 5-uses/30-minutes limit of a ``response_url``, enterprise grid installs, token
rotation (``grant_type=refresh_token``), multipart bodies, and block ids Slack
would generate for blocks sent without one.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import itertools
import json
import re
import secrets
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.fakes._server import FakeServer

# Slack's documented limits (https://docs.slack.dev/reference/block-kit/ and the
# reference pages of chat.postMessage and views.open).
MAX_MESSAGE_TEXT = 40_000
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_BLOCK_ID = 255
MAX_ACTION_ID = 255
MAX_HEADER_TEXT = 150
MAX_SECTION_TEXT = 3000
MAX_SECTION_FIELDS = 10
MAX_SECTION_FIELD_TEXT = 2000
MAX_ACTIONS_ELEMENTS = 25
MAX_CONTEXT_ELEMENTS = 10
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_BUTTON_URL = 3000
MAX_INPUT_LABEL = 2000
MAX_INPUT_HINT = 2000
MAX_PLAIN_TEXT_INPUT = 3000  # initial_value, min_length and max_length
MAX_VIEW_TITLE = 24
MAX_VIEW_BUTTON_TEXT = 24  # submit and close
MAX_VIEW_PRIVATE_METADATA = 3000
MAX_VIEW_CALLBACK_ID = 255

APP_ID = "A0FAKEAPP"
FIRST_TS_MICROS = 1_700_000_000_000_100
TS_STEP_MICROS = 100
JSON_ARGUMENTS = ("blocks", "view", "attachments", "metadata")

Json = dict[str, Any]


# What tests read


@dataclass
class FakeUser:
    id: str
    team_id: str
    email: str
    real_name: str
    tz: str = "UTC"
    is_bot: bool = False
    display_name: str = ""

    def to_json(self) -> Json:
        """The user object of ``users.info`` and ``users.lookupByEmail``."""
        offset = ZoneInfo(self.tz).utcoffset(datetime.now(UTC))
        return {
            "id": self.id,
            "team_id": self.team_id,
            "name": self.email.partition("@")[0],
            "deleted": False,
            "real_name": self.real_name,
            "tz": self.tz,
            "tz_offset": int(offset.total_seconds()) if offset is not None else 0,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "profile": {
                "email": self.email,
                "real_name": self.real_name,
                "real_name_normalized": self.real_name,
                "display_name": self.display_name,
                "display_name_normalized": self.display_name,
                "team": self.team_id,
            },
        }


@dataclass
class FakeWorkspace:
    team_id: str
    name: str
    bot_token: str
    bot_user_id: str
    bot_id: str
    users: dict[str, FakeUser] = field(default_factory=dict)
    dm_channels: dict[str, str] = field(default_factory=dict)
    """User id to the ``D...`` channel ``conversations.open`` gave for them."""


@dataclass(frozen=True)
class MessageVersion:
    text: str | None
    blocks: list[Json] | None


@dataclass
class FakeMessage:
    team_id: str
    channel: str
    ts: str
    thread_ts: str | None
    """The thread's parent ``ts`` for a reply; None for a top-level message."""
    reply_broadcast: bool
    args: Json
    """Everything ``chat.postMessage`` was given (username, icon_emoji, metadata...)."""
    versions: list[MessageVersion]
    """As posted first, then after each ``chat.update``."""

    @property
    def text(self) -> str | None:
        return self.versions[-1].text

    @property
    def blocks(self) -> list[Json] | None:
        return self.versions[-1].blocks


@dataclass
class FakeEphemeral:
    team_id: str
    channel: str
    user: str
    message_ts: str
    text: str | None
    blocks: list[Json] | None
    args: Json


@dataclass
class FakeView:
    id: str
    team_id: str
    opened_by: str
    """``views.open`` or ``views.push``."""
    trigger_id: str
    external_id: str | None
    hash: str
    versions: list[Json]
    """The view as opened, then as given to each ``views.update``."""

    @property
    def view(self) -> Json:
        return self.versions[-1]


@dataclass(frozen=True)
class OAuthGrant:
    team_id: str
    team_name: str
    bot_token: str
    bot_user_id: str
    scope: str
    authed_user_id: str
    redirect_uri: str | None


@dataclass(frozen=True)
class _Injected:
    status: int
    body: Json
    headers: Mapping[str, str]


class SlackError(Exception):
    """Raised by a method handler; answered ``{"ok": false, "error": code, **extra}``."""

    def __init__(self, code: str, **extra: Any) -> None:
        super().__init__(code)
        self.code = code
        self.extra = extra


# Block Kit checks


class BlockKitCheck:
    """Collects the ways blocks (or a view) break Slack's limits. One instance per
    message or view: it remembers the block ids it has seen, and the action ids
    of the block being checked."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self._block_ids: set[str] = set()
        self._action_ids: set[str] = set()

    def fail(self, pointer: str, problem: str) -> None:
        self.errors.append(f"{problem} [json-pointer:{pointer}]")

    def length(self, value: object, limit: int, pointer: str, what: str) -> None:
        if isinstance(value, str) and len(value) > limit:
            self.fail(pointer, f"{what} must be at most {limit} characters (got {len(value)})")

    def text_object(
        self,
        value: object,
        pointer: str,
        what: str,
        limit: int,
        *,
        plain_only: bool,
        required: bool = True,
    ) -> None:
        if value is None:
            if required:
                self.fail(pointer, f"{what} is required")
            return
        if not isinstance(value, dict) or not isinstance(value.get("text"), str):
            self.fail(pointer, f"{what} must be a text object with a string text")
            return
        allowed = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
        if value.get("type") not in allowed:
            self.fail(f"{pointer}/type", f"{what} must be of type {' or '.join(allowed)}")
        self.length(value["text"], limit, f"{pointer}/text", what)

    def unique_id(self, value: object, seen: set[str], pointer: str, what: str) -> None:
        limit = MAX_BLOCK_ID if what == "block_id" else MAX_ACTION_ID
        if not isinstance(value, str):
            self.fail(pointer, f"{what} must be a string")
            return
        self.length(value, limit, pointer, what)
        if value in seen:
            self.fail(pointer, f"{what} {value!r} is used more than once")
        seen.add(value)

    def blocks(self, blocks: object, pointer: str, limit: int, surface: str) -> None:
        if not isinstance(blocks, list):
            self.fail(pointer, "blocks must be an array")
            return
        if len(blocks) > limit:
            self.fail(pointer, f"a {surface} can have at most {limit} blocks (got {len(blocks)})")
        for index, block in enumerate(blocks):
            self.block(block, f"{pointer}/{index}")

    def block(self, block: object, pointer: str) -> None:
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            self.fail(pointer, "a block must be an object with a string type")
            return
        if "block_id" in block:
            self.unique_id(block["block_id"], self._block_ids, f"{pointer}/block_id", "block_id")
        self._action_ids = set()  # action ids are unique per block
        kind = block["type"]
        if kind == "header":
            self.text_object(
                block.get("text"),
                f"{pointer}/text",
                "header text",
                MAX_HEADER_TEXT,
                plain_only=True,
            )
        elif kind == "section":
            self.section(block, pointer)
        elif kind == "actions":
            self.elements(block, pointer, MAX_ACTIONS_ELEMENTS, "actions", interactive=True)
        elif kind == "context":
            self.elements(block, pointer, MAX_CONTEXT_ELEMENTS, "context", interactive=False)
        elif kind == "input":
            self.text_object(
                block.get("label"),
                f"{pointer}/label",
                "input label",
                MAX_INPUT_LABEL,
                plain_only=True,
            )
            self.text_object(
                block.get("hint"),
                f"{pointer}/hint",
                "input hint",
                MAX_INPUT_HINT,
                plain_only=True,
                required=False,
            )
            if "element" not in block:
                self.fail(f"{pointer}/element", "an input block needs an element")
            else:
                self.element(block["element"], f"{pointer}/element")

    def section(self, block: Json, pointer: str) -> None:
        text, fields = block.get("text"), block.get("fields")
        if text is None and fields is None:
            self.fail(pointer, "a section needs text or fields")
        self.text_object(
            text,
            f"{pointer}/text",
            "section text",
            MAX_SECTION_TEXT,
            plain_only=False,
            required=False,
        )
        if fields is not None:
            if not isinstance(fields, list):
                self.fail(f"{pointer}/fields", "section fields must be an array")
            else:
                if len(fields) > MAX_SECTION_FIELDS:
                    self.fail(
                        f"{pointer}/fields",
                        f"a section can have at most {MAX_SECTION_FIELDS} fields"
                        f" (got {len(fields)})",
                    )
                for index, item in enumerate(fields):
                    self.text_object(
                        item,
                        f"{pointer}/fields/{index}",
                        "section field",
                        MAX_SECTION_FIELD_TEXT,
                        plain_only=False,
                    )
        if "accessory" in block:
            self.element(block["accessory"], f"{pointer}/accessory")

    def elements(
        self, block: Json, pointer: str, limit: int, kind: str, *, interactive: bool
    ) -> None:
        elements = block.get("elements")
        if not isinstance(elements, list):
            self.fail(f"{pointer}/elements", f"{kind} blocks need an array of elements")
            return
        if len(elements) > limit:
            self.fail(
                f"{pointer}/elements",
                f"{kind} blocks can have at most {limit} elements (got {len(elements)})",
            )
        if interactive:
            for index, element in enumerate(elements):
                self.element(element, f"{pointer}/elements/{index}")

    def element(self, element: object, pointer: str) -> None:
        if not isinstance(element, dict) or not isinstance(element.get("type"), str):
            self.fail(pointer, "an element must be an object with a string type")
            return
        if "action_id" in element:
            self.unique_id(
                element["action_id"], self._action_ids, f"{pointer}/action_id", "action_id"
            )
        if element["type"] == "button":
            self.text_object(
                element.get("text"),
                f"{pointer}/text",
                "button text",
                MAX_BUTTON_TEXT,
                plain_only=True,
            )
            self.length(element.get("value"), MAX_BUTTON_VALUE, f"{pointer}/value", "button value")
            self.length(element.get("url"), MAX_BUTTON_URL, f"{pointer}/url", "button url")
        elif element["type"] == "plain_text_input":
            self.plain_text_input(element, pointer)

    def plain_text_input(self, element: Json, pointer: str) -> None:
        initial = element.get("initial_value")
        self.length(initial, MAX_PLAIN_TEXT_INPUT, f"{pointer}/initial_value", "initial_value")
        for name in ("min_length", "max_length"):
            value = element.get(name)
            if value is not None and (not isinstance(value, int) or value > MAX_PLAIN_TEXT_INPUT):
                self.fail(
                    f"{pointer}/{name}", f"{name} must be a number up to {MAX_PLAIN_TEXT_INPUT}"
                )
        max_length = element.get("max_length")
        if isinstance(max_length, int) and isinstance(initial, str) and len(initial) > max_length:
            self.fail(
                f"{pointer}/initial_value",
                f"initial_value must be at most max_length={max_length} characters"
                f" (got {len(initial)})",
            )

    def view(self, view: Json, pointer: str) -> None:
        kind = view.get("type")
        if kind not in ("modal", "home"):
            self.fail(f"{pointer}/type", "a view's type must be modal or home")
        modal = kind == "modal"
        self.text_object(
            view.get("title"),
            f"{pointer}/title",
            "view title",
            MAX_VIEW_TITLE,
            plain_only=True,
            required=modal,
        )
        for name in ("submit", "close"):
            self.text_object(
                view.get(name),
                f"{pointer}/{name}",
                f"view {name}",
                MAX_VIEW_BUTTON_TEXT,
                plain_only=True,
                required=False,
            )
        self.length(
            view.get("private_metadata"),
            MAX_VIEW_PRIVATE_METADATA,
            f"{pointer}/private_metadata",
            "private_metadata",
        )
        self.length(
            view.get("callback_id"), MAX_VIEW_CALLBACK_ID, f"{pointer}/callback_id", "callback_id"
        )
        blocks = view.get("blocks")
        self.blocks(blocks, f"{pointer}/blocks", MAX_VIEW_BLOCKS, "view")
        has_input = isinstance(blocks, list) and any(
            isinstance(block, dict) and block.get("type") == "input" for block in blocks
        )
        if modal and has_input and view.get("submit") is None:
            self.fail(f"{pointer}/submit", "a modal with input blocks needs a submit button")


def invalid_blocks(errors: list[str]) -> SlackError:
    return SlackError(
        "invalid_blocks",
        errors=errors,
        response_metadata={"messages": [f"[ERROR] {error}" for error in errors]},
    )


def checked_blocks(blocks: object) -> list[Json] | None:
    """The blocks of a message, or SlackError if Slack would refuse them."""
    if blocks is None:
        return None
    if not isinstance(blocks, list):
        raise SlackError("invalid_blocks_format")
    check = BlockKitCheck()
    check.blocks(blocks, "/blocks", MAX_MESSAGE_BLOCKS, "message")
    if check.errors:
        raise invalid_blocks(check.errors)
    return [block for block in blocks if isinstance(block, dict)]


def checked_view(view: object) -> Json:
    if not isinstance(view, dict):
        raise SlackError("invalid_arguments")
    check = BlockKitCheck()
    check.view(view, "/view")
    if check.errors:
        raise invalid_blocks(check.errors)
    return view


# Arguments


def _string(args: Json, name: str) -> str | None:
    """An argument as a string; None when absent or empty."""
    value = args.get(name)
    if value is None or value == "" or isinstance(value, dict | list):
        return None
    return value if isinstance(value, str) else str(value)


def _flag(value: object) -> bool:
    """A boolean argument: JSON true, or "1"/"true" in a form or query string."""
    return value is True or (isinstance(value, str) and value.lower() in ("1", "true"))


def _parse_json_arguments(args: Json) -> Json:
    """``blocks``, ``view``, ``attachments`` and ``metadata`` sent as JSON strings (in a
    form, or as a string inside a JSON body) become objects; unparseable ones stay."""
    for name in JSON_ARGUMENTS:
        value = args.get(name)
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                args[name] = json.loads(value)
    return args


async def _read_arguments(request: Request) -> Json:
    """Query string plus body (JSON or form), as Slack reads them."""
    args: Json = dict(request.query_params)
    body = await request.body()
    if body:
        content_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        if content_type == "application/json":
            try:
                parsed = json.loads(body)
            except ValueError:
                raise SlackError("invalid_json") from None
            if not isinstance(parsed, dict):
                raise SlackError("invalid_json")
            args.update(parsed)
        else:
            args.update(parse_qsl(body.decode(errors="replace"), keep_blank_values=True))
    return _parse_json_arguments(args)


def _credentials(request: Request, scheme: str) -> str | None:
    """What follows ``Authorization: <scheme>`` (``bearer`` or ``basic``), if present."""
    given, _, value = request.headers.get("authorization", "").partition(" ")
    if given.lower() != scheme or not value.strip():
        return None
    return value.strip()


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    encoded = _credentials(request, "basic")
    if encoded is None:
        return None
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("latin-1")
    except (binascii.Error, ValueError):
        return None
    client_id, colon, client_secret = decoded.partition(":")
    return (client_id, client_secret) if colon else None


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


Handler = Callable[[FakeWorkspace, Json], Json]


class FakeSlack(FakeServer):
    """``async with FakeSlack() as fake:`` serves on ``fake.url`` until the block ends."""

    def __init__(self) -> None:
        super().__init__()
        self.app_id = APP_ID
        self.workspaces: dict[str, FakeWorkspace] = {}
        self.calls: list[tuple[str, Json]] = []
        """Every ``/api`` call, injected failures included: (method, arguments)."""
        self.messages: list[FakeMessage] = []
        """Top-level messages and replies, in post order."""
        self.ephemerals: list[FakeEphemeral] = []
        self.views: list[FakeView] = []
        self.responses: dict[str, list[Json]] = {}
        """``response_url`` to the JSON bodies posted to it, in order."""
        self.missing_channels: set[str] = set()
        """Channels answered ``channel_not_found``."""
        self.valid_trigger_ids: set[str] = set()
        self._spent_trigger_ids: set[str] = set()
        self._teams_by_token: dict[str, str] = {}
        self._oauth_app: tuple[str, str] | None = None
        self._oauth_grants: dict[str, OAuthGrant] = {}
        self._injected: deque[_Injected] = deque()
        self._next_micros = FIRST_TS_MICROS
        self._serial = itertools.count(1)
        self._methods: dict[str, Handler] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "conversations.open": self._conversations_open,
            "users.lookupByEmail": self._users_lookup_by_email,
            "users.info": self._users_info,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
        }

    # Set-up

    def add_workspace(
        self,
        team_id: str,
        bot_token: str,
        bot_user_id: str = "UBOT",
        *,
        name: str | None = None,
    ) -> None:
        """Registers (or re-installs, keeping its users and DMs) a workspace whose bot
        authenticates with ``bot_token``; a re-install's old token stops working."""
        existing = self.workspaces.get(team_id)
        if existing is None:
            self.workspaces[team_id] = FakeWorkspace(
                team_id=team_id,
                name=name or team_id,
                bot_token=bot_token,
                bot_user_id=bot_user_id,
                bot_id=f"B{next(self._serial):08d}",
            )
        else:
            self._teams_by_token.pop(existing.bot_token, None)
            existing.bot_token, existing.bot_user_id = bot_token, bot_user_id
            existing.name = name or existing.name
        self._teams_by_token[bot_token] = team_id

    def add_user(
        self,
        team_id: str,
        user_id: str,
        *,
        email: str,
        real_name: str,
        tz: str = "UTC",
        is_bot: bool = False,
        display_name: str = "",
    ) -> None:
        """A member of the workspace (``display_name`` "" as for people who never set one)."""
        ZoneInfo(tz)  # an unknown zone fails here, not in the middle of a request
        self._workspace(team_id).users[user_id] = FakeUser(
            user_id, team_id, email, real_name, tz, is_bot, display_name
        )

    def set_oauth_app(self, client_id: str, client_secret: str) -> None:
        self._oauth_app = (client_id, client_secret)

    def add_oauth_code(
        self,
        code: str,
        *,
        team_id: str,
        team_name: str,
        bot_token: str,
        bot_user_id: str = "UBOT",
        scope: str = "chat:write,commands,im:write,users:read,users:read.email",
        authed_user_id: str = "UINSTALLER",
        redirect_uri: str | None = None,
    ) -> None:
        """A code ``oauth.v2.access`` exchanges once for an install of ``team_id``
        (with ``redirect_uri`` given, the exchange must name the same one)."""
        self._oauth_grants[code] = OAuthGrant(
            team_id, team_name, bot_token, bot_user_id, scope, authed_user_id, redirect_uri
        )

    def new_trigger_id(self) -> str:
        """A trigger id ``views.open``/``views.push`` accept once, as Slack hands out with
        each interaction."""
        trigger_id = (
            f"{next(self._serial)}.{secrets.randbelow(10**10):010d}.{secrets.token_hex(16)}"
        )
        self.valid_trigger_ids.add(trigger_id)
        return trigger_id

    def new_response_url(self) -> str:
        url = f"{self.url}/response/{secrets.token_urlsafe(16)}"
        self.responses[url] = []
        return url

    # Injection

    def rate_limit_next(self, retry_after: int = 1, times: int = 1) -> None:
        """The next ``times`` calls answer 429 with ``Retry-After: <retry_after>``."""
        if retry_after < 0:
            raise ValueError("retry_after must be >= 0")
        self._queue_failure(
            429,
            {"ok": False, "error": "ratelimited"},
            times,
            headers={"Retry-After": str(retry_after)},
        )

    def fail_next(self, error: str, times: int = 1) -> None:
        """The next ``times`` calls answer HTTP 200 ``{"ok": false, "error": error}``."""
        if times < 1:
            raise ValueError("times must be >= 1")
        self._injected.extend([_Injected(200, {"ok": False, "error": error}, {})] * times)

    def server_error_next(self, status: int = 503, times: int = 1) -> None:
        if not 500 <= status <= 599:
            raise ValueError("status must be 5xx")
        self._queue_failure(status, {"ok": False, "error": "internal_error"}, times)

    def _queue_failure(
        self,
        status: int,
        body: dict[str, Any],
        times: int,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        # One queue for every kind of injected answer, so they come in the order queued.
        if not 400 <= status <= 599 or times < 1:
            raise ValueError("status must be 4xx or 5xx and times >= 1")
        self._injected.extend([_Injected(status, body, dict(headers or {}))] * times)

    async def injected(self) -> JSONResponse | None:
        """Applies a pending delay, then answers a pending injected answer if any."""
        await super().injected()  # the delay; the base class's failure queue stays empty
        if not self._injected:
            return None
        answer = self._injected.popleft()
        return JSONResponse(answer.body, status_code=answer.status, headers=dict(answer.headers))

    # Queries

    def calls_to(self, method: str) -> list[Json]:
        """The arguments of each call to ``method``, in order."""
        return [args for called, args in self.calls if called == method]

    def messages_in(self, channel: str) -> list[FakeMessage]:
        """Top-level messages in ``channel`` in post order (replies are ``replies_to``)."""
        return [m for m in self.messages if m.channel == channel and m.thread_ts is None]

    def replies_to(self, channel: str, ts: str) -> list[FakeMessage]:
        """The thread under message ``ts``, broadcast replies included, in post order."""
        return [m for m in self.messages if m.channel == channel and m.thread_ts == ts]

    def message(self, channel: str, ts: str) -> FakeMessage:
        for message in self.messages:
            if (message.channel, message.ts) == (channel, ts):
                return message
        raise LookupError(f"no message {ts} in {channel}")

    def dm_channel_of(self, user_id: str) -> str | None:
        """The DM channel ``conversations.open`` gave for ``user_id``, if it was called."""
        for workspace in self.workspaces.values():
            if user_id in workspace.dm_channels:
                return workspace.dm_channels[user_id]
        return None

    # Routes

    def routes(self) -> list[Route]:
        return [
            Route("/api/{method}", self._api, methods=["GET", "POST"]),
            Route("/response/{key}", self._response_url, methods=["POST"]),
        ]

    async def _api(self, request: Request) -> Response:
        method = request.path_params["method"]
        unreadable: SlackError | None = None
        try:
            args = await _read_arguments(request)
        except SlackError as error:
            args, unreadable = {}, error
        self.calls.append((method, args))
        injected = await self.injected()
        if injected is not None:
            return injected
        try:
            if unreadable is not None:
                raise unreadable
            if method == "oauth.v2.access":
                return JSONResponse({"ok": True, **self._oauth_v2_access(request, args)})
            handler = self._methods.get(method)
            if handler is None:
                raise SlackError("unknown_method", req_method=method)
            workspace = self._authenticate(request, args)
            return JSONResponse({"ok": True, **handler(workspace, args)})
        except SlackError as error:
            return JSONResponse({"ok": False, "error": error.code, **error.extra})

    async def _response_url(self, request: Request) -> Response:
        url = f"{self.url}/response/{request.path_params['key']}"
        if url not in self.responses:
            return PlainTextResponse("no_service", status_code=404)
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return PlainTextResponse("invalid_payload", status_code=400)
        try:
            checked_blocks(body.get("blocks"))
        except SlackError as error:
            return PlainTextResponse(error.code, status_code=400)
        self.responses[url].append(body)
        return PlainTextResponse("ok")

    # Methods

    def _auth_test(self, workspace: FakeWorkspace, args: Json) -> Json:
        subdomain = re.sub(r"[^a-z0-9]+", "-", workspace.name.lower()).strip("-") or "workspace"
        return {
            "url": f"https://{subdomain}.slack.com/",
            "team": workspace.name,
            "user": "bot",
            "team_id": workspace.team_id,
            "user_id": workspace.bot_user_id,
            "bot_id": workspace.bot_id,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, workspace: FakeWorkspace, args: Json) -> Json:
        channel = self._postable_channel(workspace, args)
        text, blocks = self._message_content(args)
        thread_ts = _string(args, "thread_ts")
        if thread_ts is not None:
            parent = self._find_message(workspace, channel, thread_ts)
            if parent is None:
                raise SlackError("thread_not_found")
            thread_ts = parent.thread_ts or parent.ts  # a reply's ts names its thread
        message = FakeMessage(
            team_id=workspace.team_id,
            channel=channel,
            ts=self._next_ts(),
            thread_ts=thread_ts,
            reply_broadcast=thread_ts is not None and _flag(args.get("reply_broadcast")),
            args=args,
            versions=[MessageVersion(text, blocks)],
        )
        self.messages.append(message)
        return {
            "channel": channel,
            "ts": message.ts,
            "message": self._message_json(workspace, message),
        }

    def _chat_update(self, workspace: FakeWorkspace, args: Json) -> Json:
        channel = self._postable_channel(workspace, args)
        message = self._find_message(workspace, channel, _string(args, "ts"))
        if message is None:
            raise SlackError("message_not_found")
        text, blocks = self._message_content(args)
        message.versions.append(
            MessageVersion(
                message.text if text is None else text,
                blocks if "blocks" in args else message.blocks,
            )
        )
        return {
            "channel": channel,
            "ts": message.ts,
            "text": message.text or "",
            "message": self._message_json(workspace, message),
        }

    def _chat_post_ephemeral(self, workspace: FakeWorkspace, args: Json) -> Json:
        channel = self._postable_channel(workspace, args)
        user = _string(args, "user")
        if user is None or user not in workspace.users:
            raise SlackError("user_not_in_channel")
        text, blocks = self._message_content(args)
        ephemeral = FakeEphemeral(
            workspace.team_id, channel, user, self._next_ts(), text, blocks, args
        )
        self.ephemerals.append(ephemeral)
        return {"message_ts": ephemeral.message_ts}

    def _conversations_open(self, workspace: FakeWorkspace, args: Json) -> Json:
        users = _string(args, "users")
        if users is None:
            channel = _string(args, "channel")
            if channel is None:
                raise SlackError("users_list_not_supplied")
            if channel not in workspace.dm_channels.values():
                raise SlackError("channel_not_found")
            return {"no_op": True, "already_open": True, "channel": {"id": channel}}
        user_ids = [user.strip() for user in users.split(",") if user.strip()]
        if len(user_ids) != 1:
            raise SlackError("not_covered_by_fake", detail="multi-person DMs")
        [user_id] = user_ids
        if user_id not in workspace.users:
            raise SlackError("user_not_found")
        already_open = user_id in workspace.dm_channels
        if not already_open:
            workspace.dm_channels[user_id] = f"D{next(self._serial):08d}"
        channel_json: Json = {"id": workspace.dm_channels[user_id]}
        if _flag(args.get("return_im")):
            channel_json |= {"is_im": True, "user": user_id, "is_open": True}
        answer: Json = {"channel": channel_json}
        if already_open:
            answer |= {"no_op": True, "already_open": True}
        return answer

    def _users_lookup_by_email(self, workspace: FakeWorkspace, args: Json) -> Json:
        email = (_string(args, "email") or "").casefold()
        for user in workspace.users.values():
            if email and user.email.casefold() == email:
                return {"user": user.to_json()}
        raise SlackError("users_not_found")

    def _users_info(self, workspace: FakeWorkspace, args: Json) -> Json:
        user = workspace.users.get(_string(args, "user") or "")
        if user is None:
            raise SlackError("user_not_found")
        return {"user": user.to_json()}

    def _views_open(self, workspace: FakeWorkspace, args: Json) -> Json:
        return self._new_view(workspace, args, "views.open")

    def _views_push(self, workspace: FakeWorkspace, args: Json) -> Json:
        return self._new_view(workspace, args, "views.push")

    def _new_view(self, workspace: FakeWorkspace, args: Json, method: str) -> Json:
        view = checked_view(args.get("view"))
        external_id = _string(view, "external_id")
        if (
            external_id is not None
            and self._find_view(workspace, external_id=external_id) is not None
        ):
            raise SlackError("duplicate_external_id")
        trigger_id = _string(args, "trigger_id") or _string(args, "interactivity_pointer")
        if trigger_id in self._spent_trigger_ids:
            raise SlackError("expired_trigger_id")
        if trigger_id is None or trigger_id not in self.valid_trigger_ids:
            raise SlackError("invalid_trigger_id")
        self.valid_trigger_ids.discard(trigger_id)
        self._spent_trigger_ids.add(trigger_id)
        opened = FakeView(
            id=f"V{next(self._serial):08d}",
            team_id=workspace.team_id,
            opened_by=method,
            trigger_id=trigger_id,
            external_id=external_id,
            hash=self._new_hash(),
            versions=[view],
        )
        self.views.append(opened)
        return {"view": self._view_json(workspace, opened)}

    def _views_update(self, workspace: FakeWorkspace, args: Json) -> Json:
        view = checked_view(args.get("view"))
        target = self._find_view(
            workspace, view_id=_string(args, "view_id"), external_id=_string(args, "external_id")
        )
        if target is None:
            raise SlackError("not_found")
        expected_hash = _string(args, "hash")
        if expected_hash is not None and expected_hash != target.hash:
            raise SlackError("hash_conflict")
        target.versions.append(view)
        target.hash = self._new_hash()
        return {"view": self._view_json(workspace, target)}

    def _oauth_v2_access(self, request: Request, args: Json) -> Json:
        client_id, client_secret = _basic_credentials(request) or (
            _string(args, "client_id") or "",
            _string(args, "client_secret") or "",
        )
        if self._oauth_app is None or not _same(client_id, self._oauth_app[0]):
            raise SlackError("invalid_client_id")
        if not _same(client_secret, self._oauth_app[1]):
            raise SlackError("bad_client_secret")
        code = _string(args, "code")
        grant = self._oauth_grants.get(code or "")
        if code is None or grant is None:
            raise SlackError("invalid_code")
        if grant.redirect_uri is not None and _string(args, "redirect_uri") != grant.redirect_uri:
            raise SlackError("bad_redirect_uri")
        del self._oauth_grants[code]
        self.add_workspace(grant.team_id, grant.bot_token, grant.bot_user_id, name=grant.team_name)
        return {
            "access_token": grant.bot_token,
            "token_type": "bot",
            "scope": grant.scope,
            "bot_user_id": grant.bot_user_id,
            "app_id": self.app_id,
            "team": {"id": grant.team_id, "name": grant.team_name},
            "enterprise": None,
            "authed_user": {"id": grant.authed_user_id},
            "is_enterprise_install": False,
        }

    # Helpers

    def _workspace(self, team_id: str) -> FakeWorkspace:
        try:
            return self.workspaces[team_id]
        except KeyError:
            raise ValueError(f"no workspace {team_id}: call add_workspace first") from None

    def _authenticate(self, request: Request, args: Json) -> FakeWorkspace:
        token = _credentials(request, "bearer") or _string(args, "token")
        if token is None:
            raise SlackError("not_authed")
        team_id = self._teams_by_token.get(token)
        if team_id is None:
            raise SlackError("invalid_auth")
        return self.workspaces[team_id]

    def _postable_channel(self, workspace: FakeWorkspace, args: Json) -> str:
        channel = _string(args, "channel")
        if (
            channel is None
            or channel in self.missing_channels
            or (channel.startswith("D") and channel not in workspace.dm_channels.values())
        ):
            raise SlackError("channel_not_found")
        return channel

    @staticmethod
    def _message_content(args: Json) -> tuple[str | None, list[Json] | None]:
        text = _string(args, "text")
        if (
            text is None
            and not args.get("blocks")
            and not args.get("attachments")
            and _string(args, "markdown_text") is None
        ):
            raise SlackError("no_text")
        if text is not None and len(text) > MAX_MESSAGE_TEXT:
            raise SlackError("msg_too_long")
        return text, checked_blocks(args.get("blocks"))

    def _find_message(
        self, workspace: FakeWorkspace, channel: str, ts: str | None
    ) -> FakeMessage | None:
        for message in self.messages:
            if (message.team_id, message.channel, message.ts) == (workspace.team_id, channel, ts):
                return message
        return None

    def _find_view(
        self,
        workspace: FakeWorkspace,
        *,
        view_id: str | None = None,
        external_id: str | None = None,
    ) -> FakeView | None:
        for view in self.views:
            if view.team_id != workspace.team_id:
                continue
            if (view_id is not None and view.id == view_id) or (
                external_id is not None and view.external_id == external_id
            ):
                return view
        return None

    def _next_ts(self) -> str:
        micros = self._next_micros
        self._next_micros += TS_STEP_MICROS
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    @staticmethod
    def _new_hash() -> str:
        return f"{int(time.time())}.{secrets.token_hex(4)}"

    def _message_json(self, workspace: FakeWorkspace, message: FakeMessage) -> Json:
        shaped: Json = {
            "type": "message",
            "user": workspace.bot_user_id,
            "bot_id": workspace.bot_id,
            "app_id": self.app_id,
            "team": workspace.team_id,
            "text": message.text or "",
            "ts": message.ts,
        }
        if message.blocks is not None:
            shaped["blocks"] = message.blocks
        for name in ("attachments", "metadata", "username", "icon_emoji", "icon_url"):
            if name in message.args:
                shaped[name] = message.args[name]
        if message.thread_ts is not None:
            shaped["thread_ts"] = message.thread_ts
        return shaped

    def _view_json(self, workspace: FakeWorkspace, view: FakeView) -> Json:
        return {
            "private_metadata": "",
            "callback_id": "",
            "clear_on_close": False,
            "notify_on_close": False,
            "blocks": [],
            **view.view,
            "id": view.id,
            "team_id": view.team_id,
            "external_id": view.external_id or "",
            "state": {"values": {}},
            "hash": view.hash,
            "root_view_id": view.id,
            "previous_view_id": None,
            "app_id": self.app_id,
            "app_installed_team_id": view.team_id,
            "bot_id": workspace.bot_id,
        }
