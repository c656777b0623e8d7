#!/usr/bin/env bash
# Set up everything and run the whole test suite (lint, catalogs, unit and end-to-end tests).
set -euo pipefail
KIEMDIEM_EXTRAS="[test]"
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
.venv/bin/ruff check .
.venv/bin/python scripts/catalogs.py check
exec .venv/bin/python -m pytest -q "$@"
