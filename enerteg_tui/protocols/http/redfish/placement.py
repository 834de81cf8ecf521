"""``Location.Placement`` of a PDU (its Chassis and its PowerDistribution): read from
the DC structure, written by assigning the PDU to a rack.

Why its own module: the OCP RackPDU profile wants ``Placement.Rack`` and ``Row``
writable on both resources, and both must mean the same thing as the shell's ``mv``
of a PDU into a rack: ``Structure.assign`` (the ``edit-structure`` permission, the
audit entry ``dc.assign``, the structure event every face follows). Nothing else of a
``Location`` is writable here (``AdditionalInfo`` is the PDU's own location setting).

A PATCH names the rack by its name (``Rack``) and, where several racks have that name,
by its row (``Row``, the name of the row holding it); ``"Rack": null`` takes the PDU out
of its rack. A name that matches no rack, or more than one, is 400 naming the racks
there are; nothing changes.
"""

from __future__ import annotations

from typing import Any

from ....core.live import DeviceLive
from ....core.structure import Kind
from .errors import RedfishError
from .tree import Ctx

__all__ = ["location", "rack_of_patch", "PLACEMENT_KEYS", "UNCHANGED"]

PLACEMENT_KEYS = ("Rack", "Row")
"""What a PATCH of ``Location.Placement`` may name."""
UNCHANGED = object()
"""``rack_of_patch`` when the body does not touch the placement."""


def location(ctx: Ctx, live: DeviceLive) -> dict[str, Any]:
    """Location.Placement from our structure: ``Rack``, ``Row`` (null for a PDU in no
    rack: it has none) and the PDU's location text as ``AdditionalInfo``."""
    structure = ctx.core.structure
    places = structure.places_of(live.hex_id)
    placement: dict[str, Any] = {}
    for kind, key in (("rack", "Rack"), ("row", "Row")):
        el_id = places.get(kind)
        placement[key] = structure.get(el_id).name if el_id else None
    if live.info.settings.location:
        placement["AdditionalInfo"] = live.info.settings.location
    return {"Placement": placement}


def _racks(ctx: Ctx) -> list[tuple[int, str, str]]:
    """(id, rack name, row name) of every rack."""
    structure = ctx.core.structure
    out = []
    for el in structure.elements(Kind.RACK):
        row = structure.get(el.parent_id) if el.parent_id else None
        out.append((el.id, el.name, row.name if row is not None else ""))
    return out


def rack_of_patch(ctx: Ctx, body: dict[str, Any]) -> Any:
    """The rack id (None: no rack) a PATCH body's ``Location`` asks for, or
    ``UNCHANGED``; 400 naming what is wrong (nothing changed yet)."""
    if "Location" not in body:
        return UNCHANGED
    loc = body["Location"]
    if not isinstance(loc, dict) or set(loc) - {"Placement"} or not isinstance(
            loc.get("Placement"), dict):
        bad = next(iter(set(loc) - {"Placement"}), "Placement") if isinstance(loc, dict) \
            else "Location"
        raise RedfishError(400, "PropertyNotWritable",
                           f"Location/{bad} cannot be changed here; writable: "
                           "Location/Placement/Rack and Row; nothing was changed",
                           args=[f"Location/{bad}"])
    placement = loc["Placement"]
    extra = sorted(set(placement) - set(PLACEMENT_KEYS))
    if extra:
        raise RedfishError(400, "PropertyNotWritable",
                           f"Location/Placement/{extra[0]} cannot be changed here; writable: "
                           "Rack and Row (the PDU's rack, by name); nothing was changed",
                           args=[f"Location/Placement/{extra[0]}"])
    if "Rack" not in placement:
        raise RedfishError(400, "PropertyMissing",
                           "Location/Placement needs Rack (a PDU is placed in a rack; Row "
                           "only tells racks of the same name apart); nothing was changed",
                           args=["Location/Placement/Rack"])
    rack, row = placement["Rack"], placement.get("Row")
    if rack is None:
        return None
    for key, value in (("Rack", rack), ("Row", row)):
        if value is not None and not isinstance(value, str):
            raise RedfishError(400, "PropertyValueTypeError",
                               f"Location/Placement/{key} must be a string or null; nothing "
                               "was changed", args=[str(value), f"Location/Placement/{key}"])
    racks = _racks(ctx)
    found = [r for r in racks if r[1].lower() == rack.strip().lower()
             and (row is None or r[2].lower() == row.strip().lower())]
    if len(found) == 1:
        return found[0][0]
    every = ", ".join(f"{name} (row {r})" for _, name, r in racks) or "none yet"
    if not found:
        raise RedfishError(400, "PropertyValueNotInList",
                           f"There is no rack {rack!r}" + (f" in a row {row!r}" if row else "")
                           + f"; racks: {every}; nothing was changed",
                           args=[rack, "Location/Placement/Rack"])
    raise RedfishError(400, "PropertyValueConflict",
                       f"{len(found)} racks are named {rack!r}"
                       + (f" in rows named {row!r}" if row else "")
                       + "; give Row to tell them apart (racks: " + every
                       + "); nothing was changed",
                       args=["Location/Placement/Rack", "Location/Placement/Row"])
