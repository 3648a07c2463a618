"""Discord's rules for what a bot may send, as pure functions over JSON payloads.

Each check returns a list of :class:`Violation`. ``enforced`` says whether Discord
itself rejects the request (the fake then answers 400 like Discord would) or whether
it is this project's own policy that Discord would let through (the fake accepts the
request but still records a breach). Limits are Discord's documented ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from .objects import MESSAGE_FLAG_COMPONENTS_V2

JSON = dict[str, Any]

MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_EMBED_TITLE = 256
MAX_EMBED_DESCRIPTION = 4096
MAX_EMBED_FIELDS = 25
MAX_FIELD_NAME = 256
MAX_FIELD_VALUE = 1024
MAX_FOOTER_TEXT = 2048
MAX_AUTHOR_NAME = 256
MAX_EMBED_TOTAL = 6000
MAX_ACTION_ROWS = 5
MAX_ROW_BUTTONS = 5
MAX_CUSTOM_ID = 100
MAX_BUTTON_LABEL = 80
MAX_SELECT_OPTIONS = 25
MAX_CHOICES = 25
MAX_CHOICE_NAME = 100
MAX_CHOICE_STRING_VALUE = 100
MAX_OPTIONS = 25
MAX_COMMAND_DESCRIPTION = 100
MAX_COMMAND_TOTAL_CHARS = 4000
MAX_CHAT_INPUT_COMMANDS = 100
MAX_CONTEXT_MENU_COMMANDS = 15
MAX_MODAL_TITLE = 45
MAX_FILES = 10

# Discord's documented pattern is ^[-_\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$;
# Python's \w is the closest stdlib equivalent (letters, digits and underscore).
COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")

BUTTON = 2
TEXT_INPUT = 4
SELECT_TYPES = {3, 5, 6, 7, 8}
LINK_STYLE = 5
PREMIUM_STYLE = 6

SUB_COMMAND = 1
SUB_COMMAND_GROUP = 2
STRING_OPTION = 3
CHAT_INPUT = 1


@dataclass(frozen=True)
class Violation:
    rule: str
    message: str
    enforced: bool = True


def _too_long(rule: str, what: str, value: object, limit: int) -> list[Violation]:
    if isinstance(value, str) and len(value) > limit:
        return [Violation(rule, f"{what} is {len(value)} characters, limit {limit}")]
    return []


# --- messages -------------------------------------------------------------------------


def check_message(
    payload: JSON, *, creating: bool, file_count: int = 0, file_sizes: Iterable[int] = ()
) -> list[Violation]:
    """Everything about a message body sent or edited by the bot."""
    found: list[Violation] = []
    content = payload.get("content")
    found += _too_long("content.length", "content", content, MAX_CONTENT)

    embeds = payload.get("embeds") or []
    found += check_embeds(embeds)

    flags = int(payload.get("flags") or 0)
    components = payload.get("components") or []
    found += check_components(components, components_v2=bool(flags & MESSAGE_FLAG_COMPONENTS_V2))

    if file_count > MAX_FILES:
        found.append(Violation("files.count", f"{file_count} files attached, limit {MAX_FILES}"))

    if creating and not (
        content
        or embeds
        or components
        or file_count
        or payload.get("sticker_ids")
        or payload.get("poll")
    ):
        found.append(Violation("message.empty", "cannot send an empty message"))

    found += check_allowed_mentions(payload)
    return found


def check_allowed_mentions(payload: JSON) -> list[Violation]:
    """Project policy: every send and edit says explicitly that it pings nobody.

    Discord accepts a message without ``allowed_mentions`` (it then pings whatever the
    content mentions), so these violations are not enforced.
    """
    if "allowed_mentions" not in payload:
        return [
            Violation(
                "allowed_mentions.missing",
                "payload has no allowed_mentions: mentions in the content would ping",
                enforced=False,
            )
        ]
    allowed = payload["allowed_mentions"]
    if not isinstance(allowed, dict):
        return [Violation("allowed_mentions.invalid", f"allowed_mentions is {allowed!r}")]
    problems = []
    parse = allowed.get("parse", [])
    if parse:
        problems.append(f"parse={parse!r}")
    if allowed.get("users"):
        problems.append(f"users={allowed['users']!r}")
    if allowed.get("roles"):
        problems.append(f"roles={allowed['roles']!r}")
    if allowed.get("replied_user"):
        problems.append("replied_user=true")
    if problems:
        return [
            Violation(
                "allowed_mentions.permissive",
                "allowed_mentions lets mentions ping: " + ", ".join(problems),
                enforced=False,
            )
        ]
    return []


def check_embeds(embeds: list[JSON]) -> list[Violation]:
    found: list[Violation] = []
    if len(embeds) > MAX_EMBEDS:
        found.append(Violation("embeds.count", f"{len(embeds)} embeds, limit {MAX_EMBEDS}"))
    total = 0
    for index, embed in enumerate(embeds):
        where = f"embeds[{index}]"
        title = embed.get("title") or ""
        description = embed.get("description") or ""
        footer = (embed.get("footer") or {}).get("text") or ""
        author = (embed.get("author") or {}).get("name") or ""
        fields = embed.get("fields") or []
        found += _too_long("embed.title", f"{where}.title", title, MAX_EMBED_TITLE)
        found += _too_long(
            "embed.description", f"{where}.description", description, MAX_EMBED_DESCRIPTION
        )
        found += _too_long("embed.footer", f"{where}.footer.text", footer, MAX_FOOTER_TEXT)
        found += _too_long("embed.author", f"{where}.author.name", author, MAX_AUTHOR_NAME)
        if len(fields) > MAX_EMBED_FIELDS:
            found.append(Violation("embed.fields", f"{where} has {len(fields)} fields, limit 25"))
        total += len(title) + len(description) + len(footer) + len(author)
        for f_index, fld in enumerate(fields):
            name = fld.get("name") or ""
            value = fld.get("value") or ""
            fwhere = f"{where}.fields[{f_index}]"
            if not name or not value:
                found.append(Violation("embed.field_empty", f"{fwhere} needs a name and a value"))
            found += _too_long("embed.field_name", f"{fwhere}.name", name, MAX_FIELD_NAME)
            found += _too_long("embed.field_value", f"{fwhere}.value", value, MAX_FIELD_VALUE)
            total += len(name) + len(value)
    if total > MAX_EMBED_TOTAL:
        found.append(
            Violation(
                "embeds.total", f"embeds hold {total} characters in all, limit {MAX_EMBED_TOTAL}"
            )
        )
    return found


def walk_components(components: list[JSON]) -> Iterator[JSON]:
    for component in components:
        yield component
        yield from walk_components(component.get("components") or [])
        if isinstance(component.get("component"), dict):
            yield from walk_components([component["component"]])
        if isinstance(component.get("accessory"), dict):
            yield from walk_components([component["accessory"]])


def check_components(components: list[JSON], *, components_v2: bool = False) -> list[Violation]:
    found: list[Violation] = []
    seen_ids: set[str] = set()
    for component in walk_components(components):
        custom_id = component.get("custom_id")
        if custom_id is not None:
            if not 1 <= len(custom_id) <= MAX_CUSTOM_ID:
                found.append(
                    Violation(
                        "component.custom_id",
                        f"custom_id {custom_id[:40]!r}... is {len(custom_id)} characters, "
                        f"must be 1..{MAX_CUSTOM_ID}",
                    )
                )
            if custom_id in seen_ids:
                found.append(
                    Violation("component.duplicate_id", f"custom_id {custom_id!r} used twice")
                )
            seen_ids.add(custom_id)
        if component.get("type") == BUTTON:
            found += _check_button(component)
        if component.get("type") in SELECT_TYPES:
            found += _check_select(component)

    if components_v2:
        # Components v2 messages lay components out freely; only ids/labels apply.
        return found

    if len(components) > MAX_ACTION_ROWS:
        found.append(
            Violation("components.rows", f"{len(components)} action rows, limit {MAX_ACTION_ROWS}")
        )
    for index, row in enumerate(components):
        if row.get("type") != 1:
            found.append(
                Violation("components.not_row", f"components[{index}] is not an action row")
            )
            continue
        children = row.get("components") or []
        if not children:
            found.append(Violation("components.empty_row", f"action row {index} is empty"))
        buttons = [c for c in children if c.get("type") == BUTTON]
        selects = [c for c in children if c.get("type") in SELECT_TYPES]
        if len(buttons) > MAX_ROW_BUTTONS:
            found.append(
                Violation(
                    "components.row_buttons",
                    f"action row {index} has {len(buttons)} buttons, limit {MAX_ROW_BUTTONS}",
                )
            )
        if selects and len(children) > 1:
            found.append(
                Violation(
                    "components.row_select", f"action row {index}: a select must be alone in a row"
                )
            )
    return found


def _check_button(button: JSON) -> list[Violation]:
    found = _too_long("component.label", "button label", button.get("label"), MAX_BUTTON_LABEL)
    style = button.get("style")
    if style == LINK_STYLE:
        if not button.get("url") or "custom_id" in button:
            found.append(Violation("component.link", "a link button needs a url and no custom_id"))
    elif style != PREMIUM_STYLE and not button.get("custom_id"):
        found.append(Violation("component.custom_id", "a non-link button needs a custom_id"))
    if style != PREMIUM_STYLE and not button.get("label") and not button.get("emoji"):
        found.append(Violation("component.label", "a button needs a label or an emoji"))
    return found


def _check_select(select: JSON) -> list[Violation]:
    found = _too_long("component.placeholder", "placeholder", select.get("placeholder"), 150)
    options = select.get("options")
    if select.get("type") == 3:
        options = options or []
        if not 1 <= len(options) <= MAX_SELECT_OPTIONS:
            found.append(
                Violation("component.options", f"select has {len(options)} options, must be 1..25")
            )
        for option in options:
            for key in ("label", "value"):
                if not 1 <= len(option.get(key) or "") <= 100:
                    found.append(Violation("component.option", f"select option {key} not 1..100"))
            found += _too_long(
                "component.option", "option description", option.get("description"), 100
            )
    return found


# --- interaction callbacks -------------------------------------------------------------


def check_autocomplete(data: JSON) -> list[Violation]:
    choices = data.get("choices")
    if not isinstance(choices, list):
        return [Violation("autocomplete.choices", "autocomplete result has no choices list")]
    found: list[Violation] = []
    if len(choices) > MAX_CHOICES:
        found.append(
            Violation("autocomplete.choices", f"{len(choices)} choices, limit {MAX_CHOICES}")
        )
    for index, choice in enumerate(choices):
        found += _check_choice(choice, f"choices[{index}]", "autocomplete.choice")
    return found


def _check_choice(choice: JSON, where: str, rule: str) -> list[Violation]:
    found: list[Violation] = []
    name = choice.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_CHOICE_NAME:
        found.append(Violation(rule, f"{where}.name {name!r} must be 1..{MAX_CHOICE_NAME} chars"))
    value = choice.get("value")
    if isinstance(value, str) and len(value) > MAX_CHOICE_STRING_VALUE:
        found.append(Violation(rule, f"{where}.value is {len(value)} characters, limit 100"))
    if value is None:
        found.append(Violation(rule, f"{where} has no value"))
    return found


def check_modal(data: JSON) -> list[Violation]:
    found: list[Violation] = []
    title = data.get("title")
    if not isinstance(title, str) or not 1 <= len(title) <= MAX_MODAL_TITLE:
        found.append(Violation("modal.title", f"modal title {title!r} must be 1..45 chars"))
    custom_id = data.get("custom_id")
    if not isinstance(custom_id, str) or not 1 <= len(custom_id) <= MAX_CUSTOM_ID:
        found.append(Violation("modal.custom_id", "modal custom_id must be 1..100 chars"))
    components = data.get("components") or []
    if not 1 <= len(components) <= 5:
        found.append(
            Violation("modal.components", f"modal has {len(components)} components, must be 1..5")
        )
    for component in walk_components(components):
        if component.get("type") == TEXT_INPUT:
            found += _too_long("modal.text_input", "text input label", component.get("label"), 45)
            found += _too_long("modal.text_input", "text input value", component.get("value"), 4000)
            if not 1 <= len(component.get("custom_id") or "") <= MAX_CUSTOM_ID:
                found.append(Violation("modal.text_input", "text input custom_id not 1..100"))
    return found


# --- application commands ---------------------------------------------------------------


def check_commands(commands: list[JSON]) -> list[Violation]:
    """A bulk overwrite (PUT .../commands): each command, and the set as a whole."""
    found: list[Violation] = []
    seen: set[tuple[int, str]] = set()
    counts: dict[int, int] = {}
    for index, command in enumerate(commands):
        kind = int(command.get("type", CHAT_INPUT))
        name = command.get("name", "")
        counts[kind] = counts.get(kind, 0) + 1
        if (kind, name) in seen:
            found.append(Violation("command.duplicate", f"two commands named {name!r}"))
        seen.add((kind, name))
        found += check_command(command, where=f"commands[{index}]")
    if counts.get(CHAT_INPUT, 0) > MAX_CHAT_INPUT_COMMANDS:
        found.append(Violation("command.count", f"{counts[CHAT_INPUT]} slash commands, limit 100"))
    for kind in (2, 3):
        if counts.get(kind, 0) > MAX_CONTEXT_MENU_COMMANDS:
            found.append(Violation("command.count", f"{counts[kind]} type-{kind} commands"))
    return found


def check_command(command: JSON, *, where: str = "command") -> list[Violation]:
    found: list[Violation] = []
    kind = int(command.get("type", CHAT_INPUT))
    name = command.get("name")
    label = f"{where} ({name!r})"
    if not isinstance(name, str):
        return [Violation("command.name", f"{label} has no name")]
    description = command.get("description", "")
    if kind == CHAT_INPUT:
        found += _check_name(name, f"{label} name", "command.name")
        found += _check_description(description, f"{label} description", "command.description")
        found += _check_options(command.get("options") or [], label, depth=0)
    else:
        # Context menu commands: free-form names, and no description at all.
        if not 1 <= len(name) <= 32:
            found.append(Violation("command.name", f"{label} name must be 1..32 characters"))
        if description:
            found.append(
                Violation("command.description", f"{label}: context menus have no description")
            )
        if command.get("options"):
            found.append(Violation("command.options", f"{label}: context menus take no options"))
    permissions = command.get("default_member_permissions")
    # Documented as a decimal string; Discord also takes the integer discord.py 2.7 sends.
    valid = (isinstance(permissions, str) and permissions.isdigit()) or (
        isinstance(permissions, int) and not isinstance(permissions, bool) and permissions >= 0
    )
    if permissions is not None and not valid:
        found.append(
            Violation(
                "command.permissions",
                f"{label} default_member_permissions must be a permission bit set or null",
            )
        )
    total = _command_chars(command)
    if total > MAX_COMMAND_TOTAL_CHARS:
        found.append(
            Violation("command.size", f"{label} holds {total} characters in all, limit 4000")
        )
    return found


def _check_name(name: str, what: str, rule: str) -> list[Violation]:
    if not COMMAND_NAME.match(name):
        return [Violation(rule, f"{what} must match ^[-_\\w]{{1,32}}$")]
    if name != name.lower():
        return [Violation(rule, f"{what} must be lower case")]
    return []


def _check_description(description: object, what: str, rule: str) -> list[Violation]:
    if not isinstance(description, str) or not 1 <= len(description) <= MAX_COMMAND_DESCRIPTION:
        length = len(description) if isinstance(description, str) else description
        return [Violation(rule, f"{what} must be 1..100 characters (got {length})")]
    return []


def _check_options(options: list[JSON], parent: str, *, depth: int) -> list[Violation]:
    found: list[Violation] = []
    if len(options) > MAX_OPTIONS:
        found.append(Violation("command.options", f"{parent} has {len(options)} options, limit 25"))
    names: set[str] = set()
    subcommands = [o for o in options if o.get("type") in (SUB_COMMAND, SUB_COMMAND_GROUP)]
    if subcommands and len(subcommands) != len(options):
        found.append(Violation("command.options", f"{parent} mixes subcommands with plain options"))
    seen_optional = False
    for option in options:
        name = option.get("name", "")
        kind = option.get("type")
        what = f"{parent} option {name!r}"
        found += _check_name(name, f"{what} name", "command.option_name")
        found += _check_description(
            option.get("description"), f"{what} description", "command.option_description"
        )
        if name in names:
            found.append(Violation("command.options", f"{what} appears twice"))
        names.add(name)
        if kind == SUB_COMMAND_GROUP:
            if depth > 0:
                found.append(Violation("command.nesting", f"{what}: groups nest only at top"))
            inner = option.get("options") or []
            if any(o.get("type") != SUB_COMMAND for o in inner):
                found.append(Violation("command.nesting", f"{what}: a group holds subcommands"))
            found += _check_options(inner, what, depth=depth + 1)
        elif kind == SUB_COMMAND:
            found += _check_options(option.get("options") or [], what, depth=depth + 1)
        else:
            if option.get("required"):
                if seen_optional:
                    found.append(
                        Violation(
                            "command.option_order",
                            f"{what} is required but follows an optional option",
                        )
                    )
            else:
                seen_optional = True
            choices = option.get("choices") or []
            if len(choices) > MAX_CHOICES:
                found.append(
                    Violation("command.choices", f"{what} has {len(choices)} choices, limit 25")
                )
            if choices and option.get("autocomplete"):
                found.append(
                    Violation("command.choices", f"{what}: choices and autocomplete exclude")
                )
            for index, choice in enumerate(choices):
                found += _check_choice(choice, f"{what} choices[{index}]", "command.choices")
            if kind == STRING_OPTION:
                for key in ("min_length", "max_length"):
                    value = option.get(key)
                    if value is not None and not 0 <= value <= 6000:
                        found.append(Violation("command.options", f"{what} {key} not 0..6000"))
    return found


def _command_chars(command: JSON) -> int:
    total = len(command.get("name") or "") + len(command.get("description") or "")
    for option in command.get("options") or []:
        total += _command_chars(option)
        for choice in option.get("choices") or []:
            total += len(str(choice.get("name", ""))) + len(str(choice.get("value", "")))
    return total


def form_errors(violations: list[Violation]) -> JSON:
    """Discord's 50035 "Invalid Form Body" error body for the enforced violations."""
    errors: JSON = {}
    for violation in violations:
        errors.setdefault(violation.rule, {"_errors": []})["_errors"].append(
            {"code": "FAKE_DISCORD_RULE", "message": violation.message}
        )
    return {"message": "Invalid Form Body", "code": 50035, "errors": errors}
