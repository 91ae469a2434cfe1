"""Compiled access lists: each ACE as a rule of selectors, with its ASA line number."""

from __future__ import annotations

from dataclasses import dataclass

from tunnelgate.policy.selector import Flow, Selector

PERMIT, DENY = "permit", "deny"


@dataclass(frozen=True, slots=True)
class Rule:
    """One ACE: it matches a flow when any of its selectors does (objects expand to many)."""

    action: str  # permit | deny
    selectors: tuple[Selector, ...]
    acl: str
    line: int  # the ASA line number (remarks count as lines)
    text: str  # the ACE after ``access-list NAME`` (``extended permit ip …``)

    def matches(self, flow: Flow) -> bool:
        return any(s.matches(flow) for s in self.selectors)

    @property
    def is_permit(self) -> bool:
        return self.action == PERMIT


@dataclass(frozen=True, slots=True)
class Acl:
    """The active ACEs of one access list, in order (inactive ACEs and remarks left out)."""

    name: str
    rules: tuple[Rule, ...]

    def first_match(self, flow: Flow) -> Rule | None:
        """The ASA's first-match evaluation, linear (the reference the classifier must equal)."""
        for rule in self.rules:
            if rule.matches(flow):
                return rule
        return None

    @property
    def permits(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.is_permit)
