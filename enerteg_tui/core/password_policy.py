"""The password policy's rules on the text of a password (manual §2/§5.9, issue 19 item 8).

Owns the checks that need only the password and ``config/auth``: minimum length and the
required character classes. Each refusal names the rule (its ``config/auth`` key) and
what it asks for, so every face shows the same sentence. The rules that need the store
— no reuse of the last N passwords, expiry — live in ``core.users``, which calls
``check_text`` first; every face sets passwords only through ``UserService``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import Invalid
from .i18n import N_, _, ngettext

__all__ = ["CLASSES", "PasswordPolicy", "check_text"]

CLASSES: tuple[tuple[str, str, Any], ...] = (
    ("passwordNeedsLowercase", N_("a lowercase letter (a-z)"), str.islower),
    ("passwordNeedsUppercase", N_("an uppercase letter (A-Z)"), str.isupper),
    ("passwordNeedsDigit", N_("a digit (0-9)"), str.isdigit),
    ("passwordNeedsSpecial", N_("a character that is not a letter nor a digit (e.g. - ! # .)"),
     lambda c: not c.isalnum()),
)
"""(``config/auth`` key, what it asks for, the test of one character)."""


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    """The policy as ``config/auth`` holds it."""

    min_length: int = 8
    needs: frozenset[str] = frozenset()
    """Keys of ``CLASSES`` that are enabled."""
    history: int = 0
    """Earlier passwords (the current one included) a new one may not repeat; 0 = off."""
    max_age_days: int = 0
    """Days after which a password must be changed at the next login; 0 = never."""

    @classmethod
    def of(cls, auth: Any) -> PasswordPolicy:
        """From the ``config/auth`` settings (attribute access; absent keys: defaults)."""
        return cls(min_length=int(getattr(auth, "minPasswordLength", 8)),
                   needs=frozenset(k for k, _what, _test in CLASSES if bool(getattr(auth, k, False))),
                   history=int(getattr(auth, "passwordHistory", 0)),
                   max_age_days=int(getattr(auth, "passwordMaxAgeDays", 0)))

    def describe(self) -> str:
        """The policy in one sentence (shown where a new password is asked for), in the
        reader's language (outside a session, as the REST API: English)."""
        parts = [ngettext("at least {count} characters", "at least {count} characters",
                          self.min_length).format(count=self.min_length)]
        parts += [_(what) for key, what, _test in CLASSES if key in self.needs]
        text = _("A password needs {parts}").format(parts=", ".join(parts))
        if self.history:
            text += _("; it may not repeat any of the last {count}").format(count=self.history)
        if self.max_age_days:
            text += _("; it expires after {days} days").format(days=self.max_age_days)
        return text + "."


def check_text(policy: PasswordPolicy, password: str) -> None:
    """Raise ``Invalid`` naming the first rule of ``policy`` that ``password`` breaks."""
    if len(password) < policy.min_length:
        raise Invalid(f"Password too short (rule minPasswordLength: at least "
                      f"{policy.min_length} characters, this one has {len(password)})",
                      thing="minPasswordLength", value=f"{len(password)} characters",
                      allowed=f"at least {policy.min_length} characters")
    for key, what, test in CLASSES:
        if key in policy.needs and not any(test(c) for c in password):
            raise Invalid(f"Password refused by rule {key}: it needs {what}",
                          thing=key, value="(hidden)", allowed=f"a password with {what}")
