"""Where the client talks to and with which credentials, and where each setting came from.

Precedence, highest first: explicit arguments, environment variables, the JSON file ``~/.volc/config``
(``{"ak", "sk", "region", "endpoint"}``; env ``VOLC_CONFIG_FILE`` points elsewhere), defaults.
The file may also hold named profiles, ``{"profiles": {"team": {"endpoint": ...}}}``: the profile
chosen by ``profile=`` or ``VOLC_PROFILE`` takes the place of the top-level values (``mlp configure
--profile team`` writes one). An unknown key is logged as a warning, with the key it resembles.
The access key, secret key and session token travel as one unit: they are taken together from the
first source that has a key pair, so an AK from one place is never signed with an SK from another.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Generic, Literal, TypeVar
from urllib.parse import urlsplit

from volcengine_ml_platform import data_dir as data_dir_rule
from volcengine_ml_platform.data_dir import expand as _expand
from volcengine_ml_platform.data_dir import home as _home
from volcengine_ml_platform.errors import ConfigWarning, ValidationError

DEFAULT_REGION: Final = "cn-beijing"
VOLCENGINE_HOST: Final = "open.volcengineapi.com"
EMBEDDED: Final = "embedded"  # an endpoint value that forces the embedded platform over a file's endpoint

# Key pair variable names in precedence order: the original SDK's first, then Volcengine's newer tools'.
# The session token (newer tools only) goes with a pair from either family: it is never paired with
# keys from the file, which has no token.
_ENV_KEY_PAIRS: Final = (
    ("VOLC_ACCESSKEY", "VOLC_SECRETKEY"),
    ("VOLCENGINE_ACCESS_KEY", "VOLCENGINE_SECRET_KEY"),
)
_ENV_TOKEN: Final = "VOLCENGINE_SESSION_TOKEN"
_ENV_REGION: Final = ("VOLC_REGION", "VOLCENGINE_REGION")
_ENV_ENDPOINT: Final = "VOLC_ML_PLATFORM_ENDPOINT"
_ENV_INNER_HOST: Final = "ML_PLATFORM_HOST"
_ENV_CONFIG_FILE: Final = "VOLC_CONFIG_FILE"
_ENV_PROFILE: Final = "VOLC_PROFILE"
_FILE_KEYS: Final = ("ak", "sk", "region", "endpoint")
_PROFILES: Final = "profiles"
# Object-store settings (read by ``storage``), shown by ``mlp config show`` in remote mode.
_ENV_STORE: Final = (
    ("tos_endpoint", "VOLC_TOS_ENDPOINT"),
    ("tos_region", "VOLC_TOS_REGION"),
    ("tos_access_key", "VOLC_TOS_ACCESS_KEY"),
    ("tos_secret_key", "VOLC_TOS_SECRET_KEY"),
)

log = logging.getLogger("volcengine_ml_platform")

T = TypeVar("T")
Mode = Literal["embedded", "remote"]


@dataclass(frozen=True)
class Credentials:
    """An access key pair, with the session token of temporary (STS) credentials."""

    access_key: str
    secret_key: str
    session_token: str | None = None

    def __repr__(self) -> str:
        # Keep secrets out of logs and tracebacks.
        token = "None" if self.session_token is None else repr(masked(self.session_token))
        return (
            f"Credentials(access_key={self.access_key!r}, secret_key={masked(self.secret_key)!r}, "
            f"session_token={token})"
        )


@dataclass(frozen=True)
class Setting(Generic[T]):
    """A resolved value and where it came from: "argument", "env:NAME", "file:PATH" or "default"."""

    value: T
    source: str


@dataclass(frozen=True)
class Settings:
    access_key: Setting[str | None]
    secret_key: Setting[str | None]
    session_token: Setting[str | None]
    region: Setting[str]
    endpoint: Setting[str | None]
    inner_host: Setting[str | None]
    data_dir: Setting[Path]
    config_file: Path
    profile: Setting[str | None] = Setting(None, "default")
    config_file_source: str = "default"
    store: tuple[tuple[str, Setting[str | None]], ...] = ()
    profiles: tuple[str, ...] = ()  # the profile names in the config file

    def no_keys_hint(self) -> str:
        """For an error about missing keys: the config file's profiles when none was chosen (``mlp
        configure --profile`` writes the keys there, where they count only when the profile is chosen)."""
        if self.profile.value is not None or not self.profiles:
            return ""
        return (
            f"; {self.config_file} has profile(s) {', '.join(self.profiles)}: choose one with "
            f"--profile NAME or {_ENV_PROFILE}=NAME (Model(profile=NAME) in Python)"
        )

    @property
    def mode(self) -> Mode:
        """``embedded`` (in-process local platform) when no endpoint is set, else ``remote``."""
        return "embedded" if self.endpoint.value is None else "remote"

    @property
    def credentials(self) -> Credentials | None:
        if self.access_key.value is None or self.secret_key.value is None:
            return None
        return Credentials(self.access_key.value, self.secret_key.value, self.session_token.value)

    @property
    def inner_endpoint(self) -> str | None:
        """Base URL of the inner API: ``ML_PLATFORM_HOST`` with https unless it names a scheme."""
        host = self.inner_host.value
        if host is None:
            return None
        return host.rstrip("/") if "://" in host else f"https://{host.rstrip('/')}"

    def describe(self) -> list[tuple[str, str, str]]:
        """(name, display value, source) rows for ``mlp config show``; secrets masked.

        Only what applies to the mode: the data folder for the embedded platform, the inner host and
        object-store settings for a remote one."""
        rows: list[tuple[str, str, str]] = [
            ("mode", self.mode, "derived"),
            ("config_file", str(self.config_file), self.config_file_source),
        ]
        settings: list[tuple[str, Setting[str | None] | Setting[str] | Setting[Path]]] = [
            ("profile", self.profile),
            ("access_key", self.access_key),
            ("secret_key", self.secret_key),
            ("session_token", self.session_token),
            ("region", self.region),
            ("endpoint", self.endpoint),
        ]
        if self.mode == "embedded":
            settings.append(("data_dir", self.data_dir))
        else:
            settings.append(("inner_host", self.inner_host))
            settings.extend(self.store)
        for name, setting in settings:
            value = setting.value
            if value is None:
                shown = "(embedded)" if name == "endpoint" else "(not set)"
                if self.mode == "embedded" and name in ("access_key", "secret_key"):
                    # What the embedded platform signs with: not "nothing", which would read as a problem.
                    keys = self.data_dir.value / "credentials.json"
                    shown = f"(not set: the embedded platform's own, in {keys})"
            elif name.endswith(("access_key", "secret_key", "session_token")):
                shown = masked(str(value))
            else:
                shown = str(value)
            rows.append((name, shown, setting.source))
        return rows


def masked(secret: str) -> str:
    """Only the last 4 characters; a secret that short is hidden entirely."""
    return "****" + secret[-4:] if len(secret) > 4 else "****"


def normalize_endpoint(value: str, *, where: str) -> str | None:
    """``https://host[:port]`` form of an endpoint; None for the embedded platform.

    A bare host (e.g. ``open.volcengineapi.com``) means https. ``where`` names the source in errors.
    """
    text = value.strip()
    if text.lower() == EMBEDDED:
        return None
    if "://" not in text:
        text = f"https://{text}"
    parts = urlsplit(text)
    problem = None
    if parts.scheme not in ("http", "https"):
        problem = f"scheme must be http or https, got {parts.scheme!r}"
    elif not parts.hostname:
        problem = "no host"
    elif parts.query or parts.fragment:
        problem = "must not carry a query or fragment"
    else:
        try:
            parts.port  # noqa: B018 - reading the property validates the port
        except ValueError as exc:
            problem = str(exc)
    if problem:
        raise ValidationError(f"endpoint {value!r} from {where}: {problem}", field="endpoint")
    return text.rstrip("/")


def read_config_file(path: Path) -> dict[str, object]:
    """The whole config file as JSON; {} when it does not exist."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except UnicodeDecodeError as exc:
        raise ValidationError(
            f"config file {path}: not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from None
    except OSError as exc:
        raise ValidationError(f"config file {path}: cannot be read ({exc.strerror})") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            f"config file {path}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from exc
    if not isinstance(data, dict):
        raise ValidationError(f"config file {path}: must be a JSON object, got {type(data).__name__}")
    return data


def write_config(path: Path, values: Mapping[str, str], *, profile: str | None = None) -> None:
    """Merge ``values`` (ak, sk, region, endpoint) into the config file, at the top level or under
    ``profile``, keeping every other key. The file is replaced atomically, readable by its owner only."""
    data = read_config_file(path)
    target: dict[str, object] = data
    if profile is not None:
        profiles = data.setdefault(_PROFILES, {})
        if not isinstance(profiles, dict):
            raise ValidationError(f"config file {path}: {_PROFILES!r} must be a JSON object")
        target = profiles.setdefault(profile, {})
    target.update(values)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def _warn_unknown(data: Mapping[str, object], path: Path, where: str, known: tuple[str, ...]) -> None:
    for key in data:
        if key not in known:
            import difflib  # only to suggest a name for an unknown key

            close = difflib.get_close_matches(key, known, n=1)
            if close:  # a likely misspelling: a warning, which a program sees without configuring logging
                said = f"config file {path}: unknown key {key!r}{where} ignored (did you mean {close[0]!r}?)"
                warnings.warn(said, ConfigWarning, 2)
            else:  # other Volcengine tools keep their own keys in this file: only logged (mlp shows it)
                log.warning("config file %s: unknown key %r%s ignored", path, key, where)


def _read_file(path: Path, profile: str | None = None) -> tuple[dict[str, str], tuple[str, ...]]:
    """The config file's known keys (of ``profile`` if given), and its profile names; empty when it
    does not exist."""
    data = read_config_file(path)
    _warn_unknown(data, path, "", (*_FILE_KEYS, _PROFILES))
    profiles = data.get(_PROFILES)
    names = tuple(sorted(profiles)) if isinstance(profiles, dict) else ()
    if profile is not None:
        if not isinstance(profiles, dict) or profile not in profiles:
            raise ValidationError(
                f"config file {path}: no profile {profile!r} (profiles: {', '.join(names) or 'none'}); "
                f"create it with `mlp configure --profile {profile}`",
                field="profile",
            )
        data = profiles[profile]
        if not isinstance(data, dict):
            raise ValidationError(f"config file {path}: profile {profile!r} must be a JSON object")
        _warn_unknown(data, path, f" in profile {profile!r}", _FILE_KEYS)
    result: dict[str, str] = {}
    for key in _FILE_KEYS:
        value = data.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise ValidationError(
                f"config file {path}: {key!r} must be a string, got {type(value).__name__}", field=key
            )
        if value:
            result[key] = value
    return result, names


def _resolve_keys(
    access_key: str | None,
    secret_key: str | None,
    session_token: str | None,
    env: Mapping[str, str],
    file: Mapping[str, str],
    path: Path,
) -> tuple[Setting[str | None], Setting[str | None], Setting[str | None]]:
    unset: Setting[str | None] = Setting(None, "default")
    token: Setting[str | None] = Setting(session_token, "argument") if session_token else unset
    if access_key or secret_key:
        if not (access_key and secret_key):
            raise ValidationError(
                "access_key and secret_key must be given together",
                field="secret_key" if access_key else "access_key",
            )
        return Setting(access_key, "argument"), Setting(secret_key, "argument"), token
    for ak_name, sk_name in _ENV_KEY_PAIRS:
        ak, sk = env.get(ak_name), env.get(sk_name)
        if not (ak or sk):
            continue
        if not (ak and sk):
            present, absent = (ak_name, sk_name) if ak else (sk_name, ak_name)
            raise ValidationError(f"environment variable {present} is set but {absent} is not")
        if token is unset and env.get(_ENV_TOKEN):
            token = Setting(env[_ENV_TOKEN], f"env:{_ENV_TOKEN}")
        return Setting(ak, f"env:{ak_name}"), Setting(sk, f"env:{sk_name}"), token
    if "ak" in file or "sk" in file:
        if not ("ak" in file and "sk" in file):
            raise ValidationError(f"config file {path}: has only one of 'ak' and 'sk'")
        return Setting(file["ak"], f"file:{path}"), Setting(file["sk"], f"file:{path}"), token
    return unset, unset, token


def _first(argument: str | None, env: Mapping[str, str], names: tuple[str, ...]) -> tuple[str, str] | None:
    """(value, source) from the argument or the first non-empty variable."""
    if argument:
        return argument, "argument"
    for name in names:
        if env.get(name):
            return env[name], f"env:{name}"
    return None


def default_config_file(environ: Mapping[str, str] | None = None) -> Path:
    """``$VOLC_CONFIG_FILE`` if set, else ``~/.volc/config``."""
    env = os.environ if environ is None else environ
    if env.get(_ENV_CONFIG_FILE):
        return _expand(env[_ENV_CONFIG_FILE], env)
    return _home(env) / ".volc" / "config"


def resolve_settings(
    *,
    access_key: str | None = None,
    secret_key: str | None = None,
    session_token: str | None = None,
    region: str | None = None,
    endpoint: str | None = None,
    inner_host: str | None = None,
    data_dir: str | Path | None = None,
    config_file: str | Path | None = None,
    profile: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve every setting (arguments > env > config file > defaults). Empty strings count as unset.

    Raises :class:`~volcengine_ml_platform.errors.ValidationError` for a malformed config file or
    endpoint, or half a key pair.
    """
    env = os.environ if environ is None else environ
    path = _expand(config_file, env) if config_file else default_config_file(env)
    found_profile = _first(profile, env, (_ENV_PROFILE,))
    profile_setting: Setting[str | None] = (
        Setting(*found_profile) if found_profile else Setting(None, "default")
    )
    file, profiles = _read_file(path, profile_setting.value)
    file_source = f"file:{path}"

    ak, sk, token = _resolve_keys(access_key, secret_key, session_token, env, file, path)

    found = _first(region, env, _ENV_REGION)
    if found is None and "region" in file:
        found = file["region"], file_source
    region_setting = Setting(*found) if found else Setting(DEFAULT_REGION, "default")

    found = _first(endpoint, env, (_ENV_ENDPOINT,))
    if found is None and "endpoint" in file:
        found = file["endpoint"], file_source
    endpoint_setting: Setting[str | None] = Setting(None, "default")
    if found:
        value, source = found
        endpoint_setting = Setting(normalize_endpoint(value, where=source), source)

    found = _first(inner_host, env, (_ENV_INNER_HOST,))
    inner_setting: Setting[str | None] = Setting(*found) if found else Setting(None, "default")

    return Settings(
        access_key=ak,
        secret_key=sk,
        session_token=token,
        region=region_setting,
        endpoint=endpoint_setting,
        inner_host=inner_setting,
        data_dir=resolve_data_dir(data_dir, env),
        config_file=path,
        profile=profile_setting,
        config_file_source="argument"
        if config_file
        else (f"env:{_ENV_CONFIG_FILE}" if env.get(_ENV_CONFIG_FILE) else "default"),
        store=tuple(
            (name, Setting(env[var], f"env:{var}") if env.get(var) else Setting(None, "default"))
            for name, var in _ENV_STORE
        ),
        profiles=profiles,
    )


def resolve_data_dir(
    data_dir: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> Setting[Path]:
    """The embedded platform's data folder: argument, ``VOLC_ML_PLATFORM_DATA_DIR``, or
    ``~/.volc/ml_platform`` (``volcengine_ml_platform.data_dir``'s rule, which ``mlp serve`` uses too)."""
    return Setting(*data_dir_rule.resolve(data_dir, environ))
