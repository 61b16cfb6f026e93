"""A throwaway PostgreSQL server for tests, started from the machine's own binaries.

One server per test session (initdb takes a second), one fresh database per test. The server
listens only on a Unix socket in its temp dir: no port to collide with a parallel run, nothing
reachable from outside. `initdb` refuses to run as root, so under root the server runs as the
`postgres` user (`runuser`). Durability is switched off: the data dies with the session.

Without the binaries the tests that need the server are skipped with the reason
(`tests/ensure_postgres.sh` installs them where it can); set `JUPITER_TEST_POSTGRES=require` to
make that an error instead, for CI machines that must run them.
"""

from __future__ import annotations

import itertools
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import asyncpg
import pytest

SUPERUSER = "postgres"
PORT = 5432  # only names the socket file: the server opens no TCP port
SERVER_SETTINGS = {
    "listen_addresses": "''",
    "port": str(PORT),
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
}


def find_bindir() -> Path | None:
    """The newest /usr/lib/postgresql/N/bin (Debian's layout), else wherever `initdb` is on PATH."""
    installed = [
        bindir
        for bindir in Path("/usr/lib/postgresql").glob("*/bin")
        if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists()
    ]
    if installed:
        return max(installed, key=lambda p: [int(n) for n in re.findall(r"\d+", p.parent.name)])
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


class PostgresServer:
    def __init__(self, bindir: Path, run_as: str | None) -> None:
        self._bindir = bindir
        self._run_as = run_as
        self._names = itertools.count(1)
        self.root = Path(tempfile.mkdtemp(prefix="jupiter-pg-"))  # data, socket and log
        self._data = self.root / "data"
        self._log = self.root / "server.log"

    def _run(self, tool: str, *args: str) -> None:
        prefix = ["runuser", "-u", self._run_as, "--"] if self._run_as else []
        command = [*prefix, str(self._bindir / tool), *args]
        done = subprocess.run(command, cwd=self.root, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            log = self._log.read_text(errors="replace") if self._log.exists() else ""
            raise RuntimeError(
                f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}{done.stderr}{log}"
            )

    def start(self) -> None:
        if self._run_as:
            user = pwd.getpwnam(self._run_as)
            os.chown(self.root, user.pw_uid, user.pw_gid)
        self._run(
            "initdb",
            *("-D", str(self._data), "-U", SUPERUSER, "-A", "trust"),
            *("-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"),
        )
        settings = {**SERVER_SETTINGS, "unix_socket_directories": f"'{self.root}'"}
        options = " ".join(f"-c {name}={value}" for name, value in settings.items())
        self._run(
            "pg_ctl",
            *("-D", str(self._data), "-l", str(self._log), "-o", options),
            *("-w", "-t", "30", "start"),
        )

    def stop(self) -> None:
        try:
            if (self._data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self._data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@/{database}?host={self.root}&port={PORT}"

    async def create_database(self) -> str:
        """A new, empty database; returns its URL."""
        name = f"test_{next(self._names)}"
        conn = await asyncpg.connect(self.url("postgres"))
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return self.url(name)


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("JUPITER_TEST_POSTGRES") == "require":
        pytest.fail(f"PostgreSQL required but unavailable: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL unavailable: {reason}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bindir = find_bindir()
    if bindir is None:
        _unavailable(
            "no initdb/pg_ctl under /usr/lib/postgresql/*/bin or on PATH "
            "(install the postgresql package; `make test` does so with apt where it can)"
        )
    run_as = "postgres" if os.geteuid() == 0 else None  # initdb refuses root
    if run_as:
        try:
            pwd.getpwnam(run_as)
        except KeyError:
            _unavailable("running as root, and there is no `postgres` user to run the server as")
    server = PostgresServer(bindir, run_as)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
async def postgres_url(postgres_server: PostgresServer) -> str:
    """The URL of a fresh database on the session's server."""
    return await postgres_server.create_database()
