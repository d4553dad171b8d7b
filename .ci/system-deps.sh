#!/usr/bin/env bash
# Debian packages the platform needs on the host. Idempotent; needs root to install.
#   sandboxes:    bubblewrap, util-linux (setpriv)
#   web platform: postgresql, redis-server (the tests start throwaway instances of both on
#                 loopback: tests/services.py), chromium and fonts-liberation (browser tests
#                 drive /usr/bin/chromium with playwright; no `playwright install`)
# The postgresql and redis-server packages would start their default instances (ports 5432
# and 6379) on install; the tests never use them (they start their own on free ports), so the
# install runs under a policy-rc.d that starts no service, unless the host already has one.
set -euo pipefail
need=()
command -v bwrap >/dev/null 2>&1 || need+=(bubblewrap)
command -v setpriv >/dev/null 2>&1 || need+=(util-linux)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -e /usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf ] || need+=(fonts-liberation)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "handin: missing ${need[*]}; install them (sudo apt-get install ${need[*]}) for full sandbox isolation and the web platform's tests" >&2
  exit 0
fi
echo "handin: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\n# handin .ci/system-deps.sh: start no service while installing\nexit 101\n' \
    >/usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
