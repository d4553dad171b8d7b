#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine, and that debootstrap is
# installed (sandbox/images.py builds the base rootfs with it).
#
# For a fresh Debian bookworm machine, as root, with no systemd as PID 1
# (CI VMs, containers). Idempotent: when an engine already answers and the
# tools are installed it only checks and exits.
#
#   1. apt-get install docker.io debootstrap (only what is missing);
#   2. start dockerd in the background (log: $HANDIN_DOCKERD_LOG) unless an
#      engine already answers or a dockerd is already starting;
#   3. wait until it answers, then check that the storage driver can really
#      create layers (a FROM-scratch build mounts and diffs one). If the default
#      driver (overlay2) fails and we started the daemon, restart it with vfs
#      (slow and disk-hungry, but works everywhere) and remember the choice.
#
# Environment:
#   HANDIN_DOCKER_STORAGE_DRIVER  force a storage driver (e.g. vfs, overlay2)
#   HANDIN_DOCKERD_LOG            dockerd log file (/var/log/handin-dockerd.log)
#   HANDIN_DOCKERD_TIMEOUT        seconds to wait for the engine (60)
set -euo pipefail

LOG=${HANDIN_DOCKERD_LOG:-/var/log/handin-dockerd.log}
TIMEOUT=${HANDIN_DOCKERD_TIMEOUT:-60}
STATE_DIR=/var/lib/handin
DRIVER_FILE=$STATE_DIR/dockerd-storage-driver
PIDFILE=/var/run/docker.pid
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH"

say() { echo "docker-engine: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

engine_answers() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

dockerd_pid() {
    # PID of a live dockerd from its pidfile, or nothing.
    local pid
    [[ -s $PIDFILE ]] || return 0
    pid=$(cat "$PIDFILE" 2>/dev/null || true)
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null \
        && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == dockerd ]]; then
        echo "$pid"
    fi
}

install_packages() {
    local missing=()
    command -v dockerd >/dev/null || missing+=(docker.io)
    command -v docker >/dev/null || missing+=(docker.io)
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    # debootstrap checks the Release signature with these; with
    # --no-install-recommends they are not pulled in on their own.
    [[ -e /usr/share/keyrings/debian-archive-keyring.gpg ]] || missing+=(debian-archive-keyring)
    command -v gpgv >/dev/null || missing+=(gpgv)
    ((${#missing[@]})) || return 0
    [[ $(id -u) == 0 ]] || die "need root to install: ${missing[*]}"
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; then
        say "apt-get install failed; running apt-get update and retrying"
        apt-get update -q >/dev/null
        apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

wait_for_engine() {
    # wait_for_engine PID: until the engine answers (0), PID dies or timeout (1).
    local pid=$1 deadline=$((SECONDS + TIMEOUT))
    while ((SECONDS < deadline)); do
        engine_answers && return 0
        if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
            return 1
        fi
        sleep 0.5
    done
    return 1
}

start_dockerd() {
    # start_dockerd DRIVER: start dockerd in its own session, print its PID.
    local driver=$1 args=()
    [[ -n $driver ]] && args+=(--storage-driver="$driver")
    say "starting dockerd ${args[*]:-(default storage driver)}; log: $LOG"
    mkdir -p "$(dirname "$LOG")"
    echo "=== $(date -Is) dockerd ${args[*]}" >>"$LOG"
    setsid nohup dockerd "${args[@]}" >>"$LOG" 2>&1 </dev/null &
    echo $!
}

stop_dockerd() {
    local pid=$1 i
    kill "$pid" 2>/dev/null || return 0
    for i in $(seq 1 40); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.5
    done
    die "dockerd (pid $pid) did not stop"
}

storage_works() {
    # A FROM-scratch build with one COPY makes the driver mount a layer and
    # diff it, which is where a broken overlay setup fails. No image needed.
    local dir rc=0
    dir=$(mktemp -d)
    echo probe >"$dir/probe"
    printf 'FROM scratch\nCOPY probe /probe\n' >"$dir/Dockerfile"
    DOCKER_BUILDKIT=0 docker build -q -t handin-engine-probe:latest "$dir" >/dev/null 2>&1 || rc=1
    docker image rm -f handin-engine-probe:latest >/dev/null 2>&1 || true
    rm -rf "$dir"
    return $rc
}

install_packages

if engine_answers; then
    driver=$(docker info --format '{{.Driver}}' 2>/dev/null || echo '?')
    say "engine answers (storage driver: $driver)"
    exit 0
fi

[[ $(id -u) == 0 ]] || die "no Docker engine answers and starting one needs root"

pid=$(dockerd_pid)
if [[ -n $pid ]]; then
    say "dockerd (pid $pid) is running but does not answer yet; waiting"
    wait_for_engine "$pid" || die "dockerd (pid $pid) does not answer; see $LOG"
    exit 0
fi

# A dead daemon can leave its pidfile behind; dockerd refuses to start then.
rm -f "$PIDFILE"

driver=${HANDIN_DOCKER_STORAGE_DRIVER:-}
if [[ -z $driver && -s $DRIVER_FILE ]]; then
    driver=$(cat "$DRIVER_FILE")
fi

pid=$(start_dockerd "$driver")
if wait_for_engine "$pid" && storage_works; then
    say "engine answers (storage driver: $(docker info --format '{{.Driver}}'))"
    exit 0
fi

if [[ -n ${HANDIN_DOCKER_STORAGE_DRIVER:-} || $driver == vfs ]]; then
    tail -n 20 "$LOG" >&2 || true
    die "dockerd with storage driver '${driver:-default}' does not work; see $LOG"
fi

say "storage driver '${driver:-default}' failed; falling back to vfs"
tail -n 5 "$LOG" >&2 || true
stop_dockerd "$pid"
rm -f "$PIDFILE"
pid=$(start_dockerd vfs)
if wait_for_engine "$pid" && storage_works; then
    mkdir -p "$STATE_DIR"
    echo vfs >"$DRIVER_FILE"
    say "engine answers (storage driver: vfs; remembered in $DRIVER_FILE)"
    exit 0
fi
tail -n 20 "$LOG" >&2 || true
die "dockerd does not work with overlay2 nor vfs; see $LOG"
