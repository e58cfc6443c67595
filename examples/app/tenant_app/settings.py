"""What the app is told by its environment, read once at start-up and refused when wrong.

The compute kinds set three variables (``ROLLOUT_CONFIG_PATH``, ``ROLLOUT_COLOUR``,
``ROLLOUT_VERSION``); the stack's ``compute.environment`` may add the tenants' hosts
and a defect to inject. A value the app cannot use stops it from starting, with the
variable and what is wrong, rather than serving the wrong colour's settings or an
unintended defect. Standard library only: the bundle builder loads this module to check
a defect before baking it into a zip.

A built zip carries its version (``VERSION``) and any baked-in defect (``DEFECT``) next
to this module, so a zip is that version even where nothing sets the variable.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

CONFIG_PATH_VARIABLE = "ROLLOUT_CONFIG_PATH"
COLOUR_VARIABLE = "ROLLOUT_COLOUR"
VERSION_VARIABLE = "ROLLOUT_VERSION"
HOSTS_VARIABLE = "ROLLOUT_TENANT_HOSTS"
DEFECT_VARIABLE = "ROLLOUT_APP_DEFECT"
VERSION_FILE = "VERSION"
DEFECT_FILE = "DEFECT"
PACKAGE_DIR = Path(__file__).resolve().parent

COLOURS = ("blue", "green")
TENANT_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
CONFIG_PATH = re.compile(r"(/[A-Za-z0-9_.-]+)+")
SHARE = re.compile(r"0(\.\d+)?|1(\.0+)?")
DURATION = re.compile(r"(?P<number>\d+(\.\d+)?)(?P<unit>ms|s)")
LONGEST_DELAY = 900.0
DEFECT_GRAMMAR = ("errors:<share 0..1> (that share of / requests answer 500), "
                  "slow:<route>:<duration, e.g. 0.5s or 200ms> (that route waits first), "
                  "several separated by commas, or empty for none")


class SettingsError(ValueError):
    """The environment names something the app cannot run with."""


@dataclass(frozen=True)
class Defect:
    """An injected fault, for rehearsing a failing release; none by default."""

    error_share: Fraction = Fraction(0)
    slow_routes: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class AppSettings:
    """Everything the app reads from its environment."""

    config_path: str
    colour: str
    version: str
    hosts: Mapping[str, str] = field(default_factory=dict)
    defect: Defect = field(default_factory=Defect)


def _refuse(variable: str, value: str, problem: str) -> SettingsError:
    return SettingsError(f"{variable}={value!r}: {problem}")


def _defect_item(item: str, text: str) -> tuple[Fraction | None, tuple[str, float] | None]:
    kind, _, rest = item.partition(":")
    if kind == "errors":
        if not SHARE.fullmatch(rest):
            raise _refuse(DEFECT_VARIABLE, text, f"the share of errors must be a decimal from "
                          f"0 to 1 (e.g. errors:0.05), got {rest!r}")
        return Fraction(rest), None
    if kind == "slow":
        route, _, duration = rest.rpartition(":")
        found = DURATION.fullmatch(duration)
        if not route.startswith("/") or found is None:
            raise _refuse(DEFECT_VARIABLE, text, f"expected slow:<route starting with />:"
                          f"<duration like 0.5s or 200ms>, got {item!r}")
        seconds = float(found["number"]) / (1000 if found["unit"] == "ms" else 1)
        if not 0 < seconds <= LONGEST_DELAY:
            raise _refuse(DEFECT_VARIABLE, text, f"a delay must be above 0 and at most "
                          f"{LONGEST_DELAY:.0f}s (Lambda's longest timeout), got {duration}")
        return None, (route, seconds)
    raise _refuse(DEFECT_VARIABLE, text, f"unknown defect {item!r}; expected {DEFECT_GRAMMAR}")


def parse_defect(text: str) -> Defect:
    """``errors:0.05``, ``slow:/:0.5s``, both comma-separated, or empty; anything else refused."""
    if not text.strip():
        return Defect()
    share: Fraction | None = None
    slow: dict[str, float] = {}
    for item in (part.strip() for part in text.split(",")):
        errors, delay = _defect_item(item, text)
        if errors is not None:
            if share is not None:
                raise _refuse(DEFECT_VARIABLE, text, "errors is given twice")
            share = errors
        if delay is not None:
            if delay[0] in slow:
                raise _refuse(DEFECT_VARIABLE, text, f"route {delay[0]} is slowed twice")
            slow[delay[0]] = delay[1]
    return Defect(share or Fraction(0), slow)


def parse_hosts(text: str) -> dict[str, str]:
    """``{"host": "tenant"}`` as JSON (host names compared in lower case), or empty."""
    if not text.strip():
        return {}
    try:
        found = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _refuse(HOSTS_VARIABLE, text, f"not JSON ({exc.msg})") from None
    if not isinstance(found, dict) or not all(
            isinstance(host, str) and isinstance(tenant, str) for host, tenant in found.items()):
        raise _refuse(HOSTS_VARIABLE, text, 'expected an object {"host": "tenant id", ...}')
    bad = sorted(tenant for tenant in found.values() if not TENANT_ID.fullmatch(tenant))
    if bad:
        raise _refuse(HOSTS_VARIABLE, text, f"{bad[0]!r} is not a tenant id")
    return {host.lower().rstrip("."): tenant for host, tenant in found.items()}


def baked(name: str, package_dir: Path = PACKAGE_DIR) -> str | None:
    """The content of a file the bundle builder wrote into the zip, if any."""
    path = package_dir / name
    return path.read_text().strip() if path.is_file() else None


def _colour_and_path(environ: Mapping[str, str]) -> tuple[str, str]:
    colour = environ.get(COLOUR_VARIABLE, "")
    if colour not in COLOURS:
        raise _refuse(COLOUR_VARIABLE, colour, "must be blue or green")
    path = environ.get(CONFIG_PATH_VARIABLE, "")
    if not CONFIG_PATH.fullmatch(path):
        raise _refuse(CONFIG_PATH_VARIABLE, path,
                      "must be an SSM path like /<app>/<cohort>/<colour>")
    if path.rsplit("/", 1)[-1] != colour:
        raise _refuse(CONFIG_PATH_VARIABLE, path, f"is not the namespace of "
                      f"{COLOUR_VARIABLE}={colour!r}: a colour reads its own settings only")
    return colour, path


def load_settings(environ: Mapping[str, str], package_dir: Path = PACKAGE_DIR) -> AppSettings:
    """The app's settings; :class:`SettingsError` naming the first variable it cannot use.

    The version is ``ROLLOUT_VERSION``, else the one baked into the zip. A set
    ``ROLLOUT_APP_DEFECT`` (even empty) wins over a baked-in defect.
    """
    colour, path = _colour_and_path(environ)
    version = environ.get(VERSION_VARIABLE) or baked(VERSION_FILE, package_dir)
    if not version:
        raise SettingsError(f"no version: set {VERSION_VARIABLE}, or run a zip built by "
                            "rollout.local.app_bundle (it bakes the version in)")
    defect = (environ[DEFECT_VARIABLE] if DEFECT_VARIABLE in environ
              else baked(DEFECT_FILE, package_dir) or "")
    return AppSettings(config_path=path, colour=colour, version=version,
                       hosts=parse_hosts(environ.get(HOSTS_VARIABLE, "")),
                       defect=parse_defect(defect))
