#!/usr/bin/env python3
"""Write docs/openapi.json: the REST API's OpenAPI document, as /api/v1/openapi.json
serves it (tests/protocols/test_rest_openapi.py checks the file is current).

Usage: PYTHONPATH=. python3 scripts/openapi-doc.py [--check]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from enerteg_tui.protocols.http.api.app import openapi_document  # noqa: E402

TARGET = ROOT / "docs" / "openapi.json"


def main() -> int:
    text = json.dumps(openapi_document(), indent=1, ensure_ascii=False) + "\n"
    if "--check" in sys.argv[1:]:
        same = TARGET.exists() and TARGET.read_text() == text
        print("docs/openapi.json is current" if same else
              "docs/openapi.json is out of date: run scripts/openapi-doc.py")
        return 0 if same else 1
    TARGET.write_text(text)
    print(f"wrote {TARGET.relative_to(ROOT)} ({len(text):,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
