#!/usr/bin/env bash
# Idempotent setup for a fresh Debian 12/13 machine (as root): installs the Debian packages gitcell
# runs and tests against, then the npm dependencies. A second run only checks, and costs seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

# binary -> Debian package that provides it (the table, with why: scripts/debian-packages.txt)
declare -A want=()
while read -r bin pkg _; do
  [[ -z "$bin" || "$bin" == \#* ]] && continue
  want[$bin]=$pkg
done < scripts/debian-packages.txt
missing=()
for bin in "${!want[@]}"; do
  command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/sbin/$bin" ] || missing+=("${want[$bin]}")
done
# The CNI plugins live outside PATH.
[ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
# Tests build a static syscall probe (test/helpers/syscall-probe.ts): gcc needs the static libc.
[ -f /usr/lib/x86_64-linux-gnu/libc.a ] || missing+=(libc6-dev)

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "bootstrap: missing Debian packages (${missing[*]}); run as root to install them" >&2
    exit 1
  fi
  echo "bootstrap: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Installed services (openssh-server's sshd on 0.0.0.0:22) must not start: tests run their own on
  # 127.0.0.1. policy-rc.d answering 101 tells invoke-rc.d so; ours is removed again afterwards.
  policy=/usr/sbin/policy-rc.d
  made_policy=
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod 755 "$policy"
    made_policy=1
    trap 'rm -f "$policy"' EXIT
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ -n "$made_policy" ]; then rm -f "$policy"; trap - EXIT; fi
fi

# npm ci only when the lockfile changed since the last install.
stamp=node_modules/.gitcell-lock-hash
hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$hash" ]; then
  echo "bootstrap: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error
  echo "$hash" > "$stamp"
fi

# Compile the TypeScript into dist/ (cli/bin.js runs it) unless the build of these sources exists.
node scripts/build.mjs
