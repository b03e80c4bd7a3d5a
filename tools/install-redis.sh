#!/usr/bin/env bash
# Installs redis-server, redis-cli and redis-sentinel when any is missing.
# Used by tools/bootstrap.sh and by cibuildwheel's before-all.
#
# Never stops a Redis it did not start: Debian's packages start their service
# on install, and only the services of packages installed by this very run
# are stopped again (the suite starts its own servers on free ports).
set -euo pipefail
have() { command -v "$1" >/dev/null 2>&1; }
if have redis-server && have redis-cli && have redis-sentinel; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ] && have sudo; then SUDO="sudo"; fi
if have apt-get; then
    echo "installing redis-server, redis-tools, redis-sentinel with apt-get" >&2
    new_services=()
    for pkg in redis-server redis-sentinel; do
        dpkg -s "$pkg" >/dev/null 2>&1 || new_services+=("$pkg")
    done
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server redis-tools redis-sentinel >/dev/null
    for service in ${new_services[@]+"${new_services[@]}"}; do
        $SUDO service "$service" stop >/dev/null 2>&1 || true
    done
elif have dnf; then
    $SUDO dnf install -y -q redis
elif have yum; then
    $SUDO yum install -y -q epel-release || true
    $SUDO yum install -y -q redis
elif have apk; then
    $SUDO apk add --quiet redis
elif have brew; then
    brew install redis
fi
# Some distributions ship redis-sentinel only as `redis-server --sentinel`.
if have redis-server && ! have redis-sentinel; then
    echo "note: no redis-sentinel binary; sentinel tests use 'redis-server --sentinel'" >&2
fi
have redis-server || { echo "error: could not install redis-server" >&2; exit 1; }
