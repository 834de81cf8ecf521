"""Which services of the running controller apply which settings topics.

Exists so that no face claims an effect a setting does not have. Each service that
reads a ``config/<name>`` topic registers itself here where it reads it (``register``);
faces ask ``effect`` what a change does: applied by whom, or stored and not active in
this build (no service registered for the topic, or a key the schema lists in
``INACTIVE_KEYS`` because nothing reads it). A test starts a controller with every
service and compares each schema's declared ``SERVICE`` with what registered here.
Called by the controller and the services (register), the shell's ``put`` and the
console's Settings page (effect, applied_by).
"""

from __future__ import annotations

from collections.abc import Iterable

from . import SETTINGS_TOPICS

__all__ = ["Appliers"]


class Appliers:
    """Registry of the services that apply each settings topic in this process."""

    def __init__(self) -> None:
        self._by_topic: dict[str, list[str]] = {}

    def register(self, topic: str, service: str) -> None:
        """``service`` reads and applies ``config/<topic>`` (idempotent).

        Raises:
            KeyError: ``topic`` is not a settings topic (a programming error).
        """
        if topic not in SETTINGS_TOPICS:
            raise KeyError(f"no settings topic {topic!r}")
        names = self._by_topic.setdefault(topic, [])
        if service not in names:
            names.append(service)

    def applied_by(self, topic: str) -> list[str]:
        """The services applying ``topic`` now, in registration order (empty: none)."""
        return list(self._by_topic.get(topic, ()))

    def inactive(self, topic: str, keys: Iterable[str] | None = None) -> list[str]:
        """Of ``keys`` (default: every key), those nothing in this build applies."""
        schema = SETTINGS_TOPICS[topic]
        wanted = list(schema.model_fields) if keys is None else [k.split(".")[0] for k in keys]
        if not self._by_topic.get(topic):
            return sorted(set(wanted))
        return sorted({k for k in wanted if k in schema.INACTIVE_KEYS})

    def effect(self, topic: str, keys: Iterable[str]) -> str | None:
        """What to tell someone who changed ``keys`` of ``topic``, when not all of them
        take effect: None when every changed key is applied."""
        keys = list(keys)
        if not self._by_topic.get(topic):
            return (f"stored, but not active in this build: no service of this build "
                    f"applies config/{topic}")
        off = self.inactive(topic, keys)
        if not off:
            return None
        return (f"{', '.join(off)} {'is' if len(off) == 1 else 'are'} stored, but not active "
                f"in this build: nothing reads {'it' if len(off) == 1 else 'them'}")
