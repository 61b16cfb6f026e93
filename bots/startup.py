"""Start-up checks that name the problem before anything runs.

- a misspelt setting (`JUPITER_HEARTBEAT=5`) is otherwise ignored in silence: every
  `JUPITER_*`, `NEMO_*`, `SLACK_*`, `DISCORD_*` name in the environment or `.env` that no settings
  class reads is reported once, with the closest known name;
- `sqlite:///PATH` is relative to the working directory (three slashes; four for an absolute
  path), which nothing else says: a relative path is reported with where it resolves, and a
  directory that cannot be created is a `SettingsError` naming `JUPITER_DATABASE_URL` and the
  absolute path, so start-up fails with one line and status 2.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from core.settings import SettingsError

PREFIXES = ("JUPITER_", "NEMO_", "SLACK_", "DISCORD_")
SQLITE = "sqlite:///"


def known_names(classes: Iterable[type[BaseSettings]]) -> set[str]:
    """The environment names the settings classes read."""
    names: set[str] = set()
    for cls in classes:
        for field, info in cls.model_fields.items():
            alias = info.validation_alias
            choices = alias.choices if isinstance(alias, AliasChoices) else [field.upper()]
            names.update(str(c) for c in choices if isinstance(c, str) and c.isupper())
    return names


def _dotenv_keys(path: Path) -> list[str]:
    from dotenv import dotenv_values

    return list(dotenv_values(path)) if path.is_file() else []


def unknown_settings(
    known: set[str], environ: Mapping[str, str] | None = None, dotenv: Path = Path(".env")
) -> list[str]:
    """One warning per unknown name, with the closest known one when there is a close one."""
    environ = os.environ if environ is None else environ
    seen = [*(n for n in environ if n.startswith(PREFIXES)), *_dotenv_keys(dotenv)]
    warnings = []
    for name in dict.fromkeys(seen):
        if name in known or not name.upper().startswith(PREFIXES):
            continue
        close = difflib.get_close_matches(name.upper(), sorted(known), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]}?)" if close else ""
        warnings.append(f"unknown setting {name} is ignored{hint}")
    return warnings


def check_database(url: str) -> list[str]:
    """The SQLite file's directory exists or can be made; notices to show (a relative path).
    Raises `SettingsError` naming `JUPITER_DATABASE_URL` when it cannot be created."""
    if not url.startswith(SQLITE):
        return []
    raw = url.removeprefix(SQLITE)
    path = Path(raw).expanduser()
    notices = []
    if not path.is_absolute() and "/" in raw.strip("/"):
        # `sqlite:///jupiter.db` (the default) is plainly a file here; a path with folders
        # is where `sqlite:///var/lib/...` silently meaning ./var/lib/ surprises.
        notices.append(
            f"JUPITER_DATABASE_URL: {url} is a relative path, so the database is "
            f"{path.resolve()} (use sqlite:////{raw} for /{raw})"
        )
    absolute = path.resolve()
    try:
        absolute.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise SettingsError(
            f"JUPITER_DATABASE_URL: cannot create {absolute.parent}: {reason}"
        ) from None
    if not os.access(absolute.parent, os.W_OK):
        raise SettingsError(f"JUPITER_DATABASE_URL: cannot write in {absolute.parent}")
    return notices
