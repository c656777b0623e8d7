#!/usr/bin/env bash
# Set up everything and run the bot: venv, install, catalogs, database migration, long polling.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
exec .venv/bin/kiemdiem run
