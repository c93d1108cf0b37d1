#!/usr/bin/env bash
# Installs the Claude Code CLI (npm @anthropic-ai/claude-code, pinned) into .ci/node/, for the real-CLI
# tests (tests/test_claude_cli.py). Idempotent: does nothing when the pinned version is already there.
# Prints the path of the `claude` binary; export it as RLM_CLAUDE_BIN (the tests also find it there).
set -euo pipefail
CLAUDE_CODE_VERSION="${CLAUDE_CODE_VERSION:-2.1.330}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
prefix="$here/node"
bin="$prefix/node_modules/.bin/claude"
pkg="$prefix/node_modules/@anthropic-ai/claude-code/package.json"
if ! command -v npm >/dev/null 2>&1; then
    echo "install-claude.sh: npm not found; install Node.js (>= 20) to run the Claude Code CLI checks" >&2
    exit 1
fi
installed=""
if [ -f "$pkg" ]; then
    installed="$(node -p "require('$pkg').version" 2>/dev/null || true)"
fi
if [ "$installed" != "$CLAUDE_CODE_VERSION" ]; then
    mkdir -p "$prefix"
    # --no-fund/--no-audit: no extra network; engines: Claude Code declares node >= 22 but runs on 20.
    npm install --prefix "$prefix" --no-save --no-fund --no-audit --loglevel=error --engine-strict=false \
        "@anthropic-ai/claude-code@$CLAUDE_CODE_VERSION" >&2
fi
echo "$bin"
