#!/usr/bin/env bash
# The whole test suite, as root on a fresh machine (README's second command; .ci/run calls it):
# dependencies, type check, the compiled binary, then every test (unit, root integration, CLI), then the
# fault injection's quick form (fault/README.md: SIGKILL at random points of each operation, ENOSPC).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bunx tsc --noEmit -p .
# formatter and linter (biome.json): unformatted code or a lint error fails the run
bunx biome ci --colors=off src test bench scripts fault
bun run build
# one file at a time keeps root integration tests (namespaces, cgroups, mounts) from racing each other
# the CLI tests run the compiled binary, as users do (test/helpers/cli.ts)
BERTH_TEST_BIN=dist bun test --max-concurrency=1 --timeout 60000 src test bench "$@"
# the registry is deps.sh's docker-registry; exit 1 names every lasting failure (report in fault/results/)
bun run fault --quick
