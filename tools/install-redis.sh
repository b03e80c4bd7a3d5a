#!/usr/bin/env bash
# Installs redis-server, redis-cli and redis-sentinel when any is missing.
# Used by tools/bootstrap.sh and by cibuildwheel's before-test.
set -euo pipefail
have() { command -v "$1" >/dev/null 2>&1; }
if have redis-server && have redis-cli && have redis-sentinel; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ] && have sudo; then SUDO="sudo"; fi
if have apt-get; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server redis-tools redis-sentinel >/dev/null
    # Debian starts the packaged services; the suite starts its own servers, so stop them.
    $SUDO service redis-server stop >/dev/null 2>&1 || true
    $SUDO service redis-sentinel stop >/dev/null 2>&1 || true
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
