#!/usr/bin/env bash
# run.sh - `make pg`: Pictor with its records in a throwaway PostgreSQL 15
# on loopback. The runner is scripts/run-stores.sh, shared with `make s3`
# and `make s3pg` (both stores at once and the whole e2e suite on them);
# see there and docs/TESTING.md.
exec bash "$(dirname "$0")/../../scripts/run-stores.sh" pg
