"""Per-session event filters, as set by ``Action: Filter`` (asterisk.md §5.5).

Legacy form: ``Filter: <regex>`` over the whole event text, ``!`` prefix to exclude.
Advanced form: ``MatchCriteria: action(exclude),name(Hangup),header(Cause),method(regex)``.
No filters: every event passes; only includes: any include must match; only excludes:
no exclude may match; both: includes first, then excludes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["EventFilter", "FilterError", "Rule", "parse_rule"]

_CRITERION = re.compile(r"(action|name|header|method)\(([^)]*)\)")
_METHODS = {"regex", "exact", "starts_with", "ends_with", "contains", "none"}


class FilterError(ValueError):
    """The filter could not be parsed or compiled; the message is Asterisk's."""


@dataclass(frozen=True, slots=True)
class Rule:
    include: bool
    pattern: re.Pattern[str] | None = None
    name: str | None = None
    header: str | None = None
    method: str = "regex"
    text: str = ""

    def matches(self, event: str) -> bool:
        if self.name is not None and not event.startswith(f"Event: {self.name}\r\n"):
            return False
        if self.method == "none":
            return True
        subject = event if self.header is None else _header_value(event, self.header)
        if subject is None:
            return False
        return _match(self.method, self.pattern, self.text, subject)


@dataclass(slots=True)
class EventFilter:
    includes: list[Rule] = field(default_factory=list)
    excludes: list[Rule] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.includes or self.excludes)

    def add(self, rule: Rule) -> None:
        (self.includes if rule.include else self.excludes).append(rule)

    def allows(self, event: str) -> bool:
        if self.includes and not any(r.matches(event) for r in self.includes):
            return False
        return not any(r.matches(event) for r in self.excludes)


def parse_rule(expression: str, criteria: str | None = None) -> Rule:
    """A rule from a Filter action's ``Filter`` and optional ``MatchCriteria``."""
    if not criteria:
        include = not expression.startswith("!")
        return Rule(include, _compile(expression.removeprefix("!")), text=expression)
    found = dict(_CRITERION.findall(criteria))
    method = found.get("method", "none" if not expression else "regex")
    if method not in _METHODS or (method == "none") != (not expression):
        raise FilterError("Filter was formatted incorrectly")
    if "name" not in found and "header" not in found and not expression:
        raise FilterError("Filter was formatted incorrectly")
    pattern = _compile(expression) if method == "regex" else None
    include = found.get("action", "include") != "exclude"
    return Rule(include, pattern, found.get("name"), found.get("header"), method, expression)


def _compile(expression: str) -> re.Pattern[str]:
    try:
        return re.compile(expression)
    except re.error as exc:
        raise FilterError("Filter did not compile. Check the syntax of the filter given.") from exc


def _header_value(event: str, header: str) -> str | None:
    match = re.search(rf"(?im)^{re.escape(header)}: ?(.*?)\r?$", event)
    return match[1] if match else None


def _match(method: str, pattern: re.Pattern[str] | None, text: str, subject: str) -> bool:
    if method == "regex":
        return pattern is not None and pattern.search(subject) is not None
    if method == "exact":
        return subject == text
    if method == "starts_with":
        return subject.startswith(text)
    if method == "ends_with":
        return subject.endswith(text)
    return text in subject
