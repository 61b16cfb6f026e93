"""Jupiter's platform-free core: the NemoVideo client, the conversation engine and the store."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("jupiter-video")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

SKILL_SOURCE = "jupiter-text-to-video"
