#!/bin/sh
# Installs the PostgreSQL server binaries the store tests start a throwaway server from, when they
# are missing and this machine can install them (root, apt). Never fails `make test`: without them
# the PostgreSQL half of the store suite is skipped, with the reason in pytest's summary.
set -u
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_postgres: no PostgreSQL binaries and no root apt-get to install them;" \
        "the PostgreSQL store tests will be skipped" >&2
    exit 0
fi
echo "ensure_postgres: installing PostgreSQL with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql >/dev/null; }; then
    echo "ensure_postgres: apt-get could not install postgresql;" \
        "the PostgreSQL store tests will be skipped" >&2
fi
exit 0
