"""Whether ``veille run`` runs its cycle as Prefect flows or directly (``VEILLE_PREFECT``).

``auto`` (the default): as flows when a Prefect server is configured (``PREFECT_API_URL``,
wherever Prefect reads it from), so the run shows in its UI with its artifacts; directly
otherwise (:mod:`flows.direct`), since Prefect would start a temporary server of its own for
the length of the command. ``on``: always as flows (with that temporary server when none is
configured, which keeps the runs in Prefect's local database). ``off``: always directly.

With a server and nothing due, ``auto`` runs the cycle directly as well and records it as one
flow run of that server (:mod:`flows.record`).

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
    return bool(prefect_setting(API_URL))


class PrefectUnreachable(Exception):
    """The Prefect API configured (``PREFECT_API_URL``) does not answer."""


def health(api_url: str, timeout: float) -> int | str:
    """``GET {api_url}/health``: the HTTP status of the answer, or why there was none, in a few
    words ("connection refused", "no answer within 2 s"). The one probe of a Prefect API here:
    the command's check, `veille serve`'s start of its own server and its watch."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{api_url.rstrip('/')}/health", timeout=timeout) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except TimeoutError:
        return f"no answer within {timeout:g} s"
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            return f"no answer within {timeout:g} s"
        return str(getattr(reason, "strerror", None) or reason).lower()
    except (OSError, ValueError) as exc:
        return str(getattr(exc, "strerror", None) or exc).lower()


def check_prefect_api(timeout: float = 10.0) -> None:
    """When a Prefect API is configured and does not answer (no server there, a typo in
    ``PREFECT_API_URL``), raise :class:`PrefectUnreachable`, one line naming the URL and the
    cause: the command would otherwise fail deep in Prefect's client with a traceback. Any
    HTTP answer counts (a 401 of an API behind authentication: Prefect's client takes it from
    there)."""
    url = prefect_setting(API_URL)
    if not url:
        return
    answer = health(str(url), timeout)
    if isinstance(answer, str):
        raise PrefectUnreachable(
            f"cannot reach the Prefect API at {url} (PREFECT_API_URL): {answer}; start that server"
            " (`prefect server start`) or unset PREFECT_API_URL"
        ) from None


#: Prefect settings read here, by their environment name: their keys in ``prefect.toml``
#: (in ``pyproject.toml`` under ``[tool.prefect]``).
TOML_KEYS = {
    API_URL: ("api", "url"),
    "PREFECT_API_KEY": ("api", "key"),
    "PREFECT_API_AUTH_STRING": ("api", "auth_string"),
    "PREFECT_API_SSL_CERT_FILE": ("api", "ssl_cert_file"),
    "PREFECT_API_TLS_INSECURE_SKIP_VERIFY": ("api", "tls_insecure_skip_verify"),
    "PREFECT_CLIENT_CUSTOM_HEADERS": ("client", "custom_headers"),
}


def prefect_setting(name: str) -> Any:
    """A Prefect setting (one of :data:`TOML_KEYS`) where Prefect would find it, in its order:
    the environment, ``.env``, ``prefect.toml``, ``pyproject.toml``, the active profile; or
    Prefect's own answer when it is already imported (tests, benches). None when unset, or set
    empty in the environment or ``.env``, which then wins over the files after it, as in
    Prefect (``PREFECT_API_URL=`` there: no server)."""
    if "prefect.settings" in sys.modules:
        import prefect.settings

        return getattr(prefect.settings, name).value() or None
    if name in os.environ:  # set, even empty: Prefect reads no further (empty: no server)
        return os.environ[name] or None
    if (value := _dotenv_value(Path(".env"), name)) is not None:
        return value or None
    keys = TOML_KEYS[name]
    for path, prefix in ((Path("prefect.toml"), ()), (Path("pyproject.toml"), ("tool", "prefect"))):
        if (value := _toml_value(path, (*prefix, *keys))) not in (None, ""):
            return value
    return _profile_value(name)


def _profile_value(name: str) -> Any:
    """A setting of the active profile in Prefect's profiles file."""
    home = Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect").expanduser()
    path = Path(os.environ.get("PREFECT_PROFILES_PATH") or home / "profiles.toml").expanduser()
    data = _read_toml(path)
    active = os.environ.get("PREFECT_PROFILE") or data.get("active")
    profile = data.get("profiles", {}).get(active, {}) if active else {}
    value = profile.get(name) if isinstance(profile, dict) else None
    return value if value not in (None, "") else None


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
    """The value of ``name`` in a ``.env`` file ("" when set empty; the last line setting it, as
    python-dotenv reads it), None when it is not there."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return None
    found = None
    for line in lines:
        key, sep, value = line.removeprefix("export ").partition("=")
        if sep and key.strip() == name:
            found = value.strip().strip("'\"")
    return found
