#!/usr/bin/env python3
"""Write docs/modbus-registers.md from the register map (enerteg_tui/protocols/modbus/
modbus_map.csv); tests/protocols/test_modbus.py fails while the two differ."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from enerteg_tui.protocols.modbus.regmap import load_map, render_markdown  # noqa: E402

if __name__ == "__main__":
    out = ROOT / "docs" / "modbus-registers.md"
    out.write_text(render_markdown(load_map()), encoding="utf-8")
    print(f"wrote {out.relative_to(ROOT)}")
