"""Whether ``veille run`` runs its cycle as Prefect flows or directly (``VEILLE_PREFECT``).

``auto`` (the default): as flows when a Prefect server is configured (``PREFECT_API_URL``,
wherever Prefect reads it from), so the run shows in its UI with its artifacts; directly
otherwise (:mod:`flows.direct`), since Prefect would start a temporary server of its own for
the length of the command. ``on``: always as flows (with that temporary server when none is
configured, which keeps the runs in Prefect's local database). ``off``: always directly.

Deciding costs no Prefect import in the usual cases: the environment, then the files Prefect
reads its settings from (``.env``, ``prefect.toml``, ``pyproject.toml`` in the working folder,
the profiles file), read as TOML or lines.
"""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path
from typing import Any

API_URL = "PREFECT_API_URL"


def use_flows(choice: str) -> bool:
    """Flows or a direct run, for a ``VEILLE_PREFECT`` value already checked by the settings."""
    if choice in {"on", "off"}:
        return choice == "on"
    return prefect_api_configured()


def prefect_api_configured() -> bool:
    """Whether Prefect would talk to a server rather than start its temporary one."""
    if "prefect.settings" in sys.modules:  # already imported (tests, benches): ask it
        from prefect.settings import get_current_settings

        return bool(get_current_settings().api.url)
    if os.environ.get(API_URL):
        return True
    if _dotenv_value(Path(".env"), API_URL):
        return True
    for path, keys in (
        (Path("prefect.toml"), ("api", "url")),
        (Path("pyproject.toml"), ("tool", "prefect", "api", "url")),
    ):
        if _toml_value(path, keys):
            return True
    return bool(_profile_api_url())


def _profile_api_url() -> str | None:
    """``PREFECT_API_URL`` of the active profile in Prefect's profiles file."""
    home = Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect").expanduser()
    path = Path(os.environ.get("PREFECT_PROFILES_PATH") or home / "profiles.toml").expanduser()
    data = _read_toml(path)
    active = os.environ.get("PREFECT_PROFILE") or data.get("active")
    profile = data.get("profiles", {}).get(active, {}) if active else {}
    value = profile.get(API_URL) if isinstance(profile, dict) else None
    return str(value) if value else None


def _toml_value(path: Path, keys: tuple[str, ...]) -> Any:
    node: Any = _read_toml(path)
    for key in keys:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def _dotenv_value(path: Path, name: str) -> str | None:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return None
    for line in lines:
        key, _, value = line.removeprefix("export ").partition("=")
        if key.strip() == name and value.strip().strip("'\""):
            return value.strip().strip("'\"")
    return None
