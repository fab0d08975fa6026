"""Settings, loaded once from the environment and an optional TOML file.

Every variable is ``PALINSESTO_<FIELD>`` (upper case). A file named by
``PALINSESTO_CONFIG`` supplies defaults that the environment overrides. The
result is one frozen :class:`Settings`; ``cli.py`` builds it and hands its
pieces down. No other module reads ``os.environ``.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from palinsesto.proxies import TrustedProxies, entries

ENV_PREFIX = "PALINSESTO_"
SECRET_FIELDS = frozenset({"admin_password", "secret_key", "node_token"})
SIGNUP_MODES = ("off", "open", "approval")
DEFAULT_LIVE_PORT = 8001
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the key."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("./data")
    database_url: str = ""
    redis_url: str = ""
    # Keys and the change-event channel in Redis start with this (several panels can share one).
    redis_key_prefix: str = "palinsesto"
    listen: str = "127.0.0.1:8000"
    public_url: str = ""
    admin_password: str = ""
    admin_username: str = "admin"
    secret_key: str = ""
    token_ttl_seconds: int = 3600
    ffmpeg_path: str = ""
    timezone: str = "UTC"
    demo_tenant: str = "demo"
    # Sign-in throttle (accounts/throttle.py): failures per client address, and per account
    # from all addresses together, within the window (README, "Sign-in throttling").
    login_max_failures: int = 10
    login_account_max_failures: int = 20
    login_window_seconds: int = 300
    # Reverse proxies whose X-Forwarded-For is believed (addresses or CIDR ranges, comma
    # separated); empty = the connecting peer is always the client.
    trusted_proxies: str = ""
    # A MaxMind DB file (GeoIP2/GeoLite2 Country or City) for territory rules; empty = the
    # viewer's country is unknown (items with deny-on-unknown are then refused).
    geoip_db: str = ""
    # Roles that must sign in with a second factor (TOTP), comma separated, e.g.
    # "platform_admin,owner"; until they set it up, their tokens reach only the set-up.
    totp_required_roles: str = ""
    log_level: str = "info"
    epg_max_bytes: int = 2 * 1024**3
    epg_check_seconds: int = 300
    # M3U sources (panel imports on a schedule): how often due ones are re-imported, and
    # the largest playlist read (a URL's body or an upload), as the CLI's import allows.
    m3u_check_seconds: int = 300
    m3u_max_bytes: int = 50 * 1024 * 1024
    # Player API typing choices the reference leaves open (xtream-api.md §14).
    xtream_active_cons_as_string: bool = False
    xtream_xui_fields: bool = False
    # Live engine (media/): the data-plane listener serving /live, /hls and the short forms
    # (the main app 302s there), the RTMP push port, and the pull-source policy.
    # Empty live_listen = LISTEN's host (all interfaces if LISTEN binds them) and port 8001.
    live_listen: str = ""
    # Where the panel's /live redirect sends players; empty = http://<host of public_url,
    # else the address the player reached>:<live port> (see playback/live_routes.py).
    live_public_url: str = ""
    rtmp_listen: str = "0.0.0.0:1935"  # "off" (or empty in the file): no RTMP ingest
    # What OBS is told to publish to (``rtmp://host:port/live``); empty = the host of
    # public_url (or of the panel address the browser used) and the RTMP listener's port.
    rtmp_public_url: str = ""
    # Signed browser playback (watch page, panel preview): how long one token plays.
    watch_token_ttl_seconds: int = 6 * 3600
    preview_token_ttl_seconds: int = 900
    # Outbound fetches (EPG, M3U, pull sources, HLS segments) reach only public addresses;
    # the platform admin allows non-public ranges here (outbound/policy.py), e.g.
    # "10.0.0.0/8, 192.168.1.20:554". Denied host names are refused whatever they resolve to.
    outbound_allow_networks: str = ""
    outbound_denied_hosts: str = ""
    # Deprecated spellings kept for old environments: the first allows every address, the
    # second adds to outbound_denied_hosts.
    live_allow_private_sources: bool = False
    live_denied_hosts: str = ""
    # File sources: each tenant's files live in <media_root>/<tenant id>/ and a file
    # source's path is read inside that folder (empty = <data_dir>/media).
    media_root: Path = Path("")
    # Uploads (POST/PUT /api/v1/uploads): the largest file, the largest chunk one PUT may
    # carry, and how long an upload may sit unfinished before it is deleted.
    upload_max_bytes: int = 50 * 1024**3
    upload_chunk_max_bytes: int = 64 * 1024 * 1024
    upload_expiry_seconds: int = 86_400
    # Catch-up archive: channels with archive_days > 0 are recorded under archive_root
    # (empty = <data_dir>/archive/<tenant id>/<channel id>/); each tenant may use up to
    # archive_quota_mb (0 = no quota) before its oldest recordings are pruned.
    archive_root: Path = Path("")
    archive_quota_mb: int = 20480
    archive_prune_seconds: int = 60
    live_idle_stop_seconds: int = 10
    live_gpu_encoder: str = ""
    # Always-on channels start a few at a time, so a large catalogue cannot stampede the node.
    live_max_concurrent_starts: int = 2
    # SRT push: a push_srt channel listens on srt_port_base + its id (0 = only channels whose
    # source names a port), on srt_listen_host, with its stream key as the passphrase.
    srt_port_base: int = 10000
    srt_listen_host: str = "0.0.0.0"
    hls_token_ttl_seconds: int = 120
    hls_session_timeout_seconds: int = 30
    # Forensic watermark (rights records with ``watermark``; protocol/watermark.py): one
    # A/B symbol per slot (= keyframe interval = HLS segment), ± strength luma levels.
    # ``palinsesto watermark extract`` reads captures with the same values.
    watermark_slot_seconds: float = 2.0
    watermark_strength: int = 3
    # Where security reports go (security.txt's Contact): a mailto: or https: URI.
    security_contact: str = ""
    # Counter-notices (trust/counter_notices.py): a restriction is lifted this many business
    # days after a counter-notice unless the notifier records legal action first.
    counter_notice_business_days: int = 10
    # How often the legal jobs run: restore after counter-notices, lift expired actions,
    # apply IP retention (panel/admin/legal_jobs.py).
    legal_jobs_seconds: int = 300
    # Client addresses in stored rows: truncated (IPv4 /24, IPv6 /48) after this many
    # days, removed after that many; a tenant may set its own (trust/retention.py).
    ip_truncate_days: int = 30
    ip_remove_days: int = 180
    # Self-service panels (admin/api/routes/signup.py): "off" (no public sign-up), "open"
    # (a new panel is active at once) or "approval" (it waits for the platform admin). New
    # panels start on signup_plan (accounts/plans.py); each client address may sign up
    # signup_per_hour times an hour.
    signup: str = "off"
    signup_plan: str = "trial"
    signup_per_hour: int = 5
    # Outgoing mail (creator invitations, panel/admin/mail.py): smtp://host:port or
    # smtps://user:password@host:port; empty = no mail, the panel shows the link to copy.
    smtp_url: str = ""
    mail_from: str = ""
    # How often the live engine adds its viewers to the daily usage table (usage_days).
    usage_sample_seconds: int = 30
    # How often each tenant's storage (media folder, catch-up archive) is measured for the
    # daily usage table (the day keeps its highest figure).
    storage_sample_seconds: int = 3600
    # How long probing one VOD file (ffmpeg reading its header) may take.
    vod_probe_timeout_seconds: int = 20
    # Library scans: how many ffmpeg probes run at once (each is one short process).
    library_probe_workers: int = 2
    # Viewer responses built per bouquet set (player API lists, playlists): at most this
    # many, holding at most this many bytes, least recently used dropped first.
    response_cache_max_entries: int = 2048
    response_cache_max_bytes: int = 256 * 1024**2
    # Streaming nodes (`palinsesto node`): how often they heartbeat, how long a silent one
    # keeps its lease before its sessions are freed and its channels placed elsewhere, and
    # the play tokens the panel's /live 302 carries to them (optionally bound to the
    # viewer's address: then a player behind changing addresses cannot follow the 302).
    node_heartbeat_seconds: float = 2.0
    node_lease_seconds: float = 10.0
    play_token_ttl_seconds: int = 60
    play_token_bind_ip: bool = False
    # A node on its own machine (``palinsesto node``): the panel it registers with, the
    # token the panel issued for it, the address players and edges reach its data plane
    # at (empty = http://<live_listen>), its name (empty = the host name) and the capacity
    # it announces. It listens with live_listen, rtmp_listen and the srt_* settings.
    node_panel_url: str = ""
    node_token: str = ""
    node_public_url: str = ""
    node_name: str = ""
    node_egress_mbps: int = 1000
    node_max_channels: int = 100
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def host(self) -> str:
        return self.listen.rsplit(":", 1)[0]

    @property
    def effective_live_listen(self) -> str:
        """The data plane's host:port: the setting, else LISTEN's host and port 8001 (0 when
        LISTEN's port is 0, so a test server on port 0 takes no fixed port)."""
        if self.live_listen:
            return self.live_listen
        host, port = split_host_port(self.listen)
        return f"{join_host(host)}:{DEFAULT_LIVE_PORT if port else 0}"

    @property
    def port(self) -> int:
        return int(self.listen.rsplit(":", 1)[1])

    @property
    def totp_required(self) -> frozenset[str]:
        return frozenset(entries(self.totp_required_roles))

    @property
    def trusted_proxy_list(self) -> list[str]:
        """The trusted proxies, one entry each (uvicorn's ``forwarded_allow_ips``)."""
        return entries(self.trusted_proxies)

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'palinsesto.db').resolve()}"

    @property
    def rtmp_public_port(self) -> int:
        """The RTMP port apps are told about (``server_info.rtmp_port``, reference §3.2)."""
        if self.rtmp_public_url:
            return urlsplit(self.rtmp_public_url).port or 1935
        if not self.rtmp_listen:
            return 1935
        return int(self.rtmp_listen.rsplit(":", 1)[1]) or 1935

    @property
    def effective_media_root(self) -> Path:
        """Where file sources live: ``media_root``, or ``<data_dir>/media`` when unset."""
        unset = str(self.media_root) in ("", ".")
        return self.data_dir / "media" if unset else self.media_root

    @property
    def public_panel(self) -> bool:
        """Whether viewers reach this panel on a public address (``public_url`` names a host
        that is not loopback, private or ``localhost``): new tenants then require rights."""
        host = urlsplit(self.public_url).hostname or ""
        if not host or host == "localhost" or host.endswith((".localhost", ".local")):
            return False
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return True  # a DNS name
        return ip.is_global

    @property
    def effective_archive_root(self) -> Path:
        """Where catch-up recordings live: ``archive_root``, or ``<data_dir>/archive``."""
        unset = str(self.archive_root) in ("", ".")
        return self.data_dir / "archive" if unset else self.archive_root

    @property
    def effective_public_url(self) -> str:
        return (self.public_url or f"http://{self.listen}").rstrip("/")

    def resolve_ffmpeg(self) -> str:
        """The ffmpeg binary: the setting if given, else the one shipped by imageio-ffmpeg."""
        if self.ffmpeg_path:
            return self.ffmpeg_path
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()

    def masked(self) -> dict[str, str]:
        """Effective settings for display, secrets and URL passwords hidden."""
        shown: dict[str, str] = {}
        for f in fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            if f.name in SECRET_FIELDS:
                text = "********" if value else "(not set)"
            elif f.name.endswith("_url"):
                text = mask_url_password(str(value))
            else:
                text = str(value)
            shown[f.name] = text
        shown["database_url"] = mask_url_password(self.effective_database_url)
        shown["live_listen"] = self.effective_live_listen
        shown["public_url"] = self.effective_public_url
        shown["ffmpeg_path"] = self.ffmpeg_path or "(imageio-ffmpeg)"
        return shown


def split_host_port(address: str) -> tuple[str, int]:
    """``host:port`` (IPv6 in brackets: ``[::]:8000``) to a bindable host and a port.

    Raises ``ValueError`` if it is not one.
    """
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"expected host:port, got {address!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host or (":" in host and not address.startswith("[")):
        raise ValueError(f"expected host:port (IPv6 in brackets), got {address!r}")
    return host, int(port)


def join_host(host: str) -> str:
    """A host as written before ``:port`` in an address or a URL (IPv6 in brackets)."""
    return f"[{host}]" if ":" in host else host


def is_wildcard(host: str) -> bool:
    """Whether binding ``host`` listens on every interface."""
    return host in WILDCARD_HOSTS


def mask_url_password(url: str) -> str:
    if not url or "@" not in url:
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":********@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _coerce(name: str, raw: Any, target: Any) -> Any:
    try:
        if isinstance(target, Path):
            return Path(str(raw))
        if isinstance(target, bool):
            return str(raw).lower() in {"1", "true", "yes", "on"}
        if isinstance(target, int):
            return int(raw)
        if isinstance(target, float):
            return float(raw)
        return str(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{ENV_PREFIX}{name.upper()}: cannot read {raw!r}: {exc}") from exc


def load_settings(environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Build the settings from a TOML file (optional), the environment and overrides."""
    env = dict(os.environ if environ is None else environ)
    values: dict[str, Any] = {}
    defaults = Settings()
    known = {f.name: getattr(defaults, f.name) for f in fields(Settings) if f.name != "extra"}
    config_file = env.get(f"{ENV_PREFIX}CONFIG")
    if config_file:
        try:
            with open(config_file, "rb") as fh:
                data = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{ENV_PREFIX}CONFIG: cannot read {config_file}: {exc}") from exc
        for key, raw in data.items():
            if key not in known:
                raise ConfigError(f"{config_file}: unknown setting {key!r}")
            values[key] = _coerce(key, raw, known[key])
    for name, default in known.items():
        raw = env.get(f"{ENV_PREFIX}{name.upper()}")
        if raw is not None and raw != "":
            values[name] = _coerce(name, raw, default)
    values.update(overrides)
    if str(values.get("rtmp_listen", "")).lower() == "off":
        values["rtmp_listen"] = ""  # an empty variable means "the default", so a word says off
    settings = replace(defaults, **values)
    _validate(settings)
    return settings


def _validate(settings: Settings) -> None:
    for name in ("listen", "live_listen", "rtmp_listen"):
        value = getattr(settings, name)
        if value or name == "listen":  # empty: derived (live) or turned off (RTMP)
            try:
                split_host_port(value)
            except ValueError as exc:
                raise ConfigError(f"{ENV_PREFIX}{name.upper()}: {exc}") from None
    for name in ("public_url", "live_public_url", "node_panel_url", "node_public_url"):
        url = getattr(settings, name)
        parts = urlsplit(url)
        if url and (parts.scheme not in ("http", "https") or not parts.hostname):
            raise ConfigError(f"{ENV_PREFIX}{name.upper()}: expected http(s)://host[:port]")
    if settings.response_cache_max_entries < 1 or settings.response_cache_max_bytes < 1:
        raise ConfigError(f"{ENV_PREFIX}RESPONSE_CACHE_MAX_ENTRIES / _BYTES: must be positive")
    # The ranges protocol/watermark.py's MarkParams accepts.
    if not 0.2 <= settings.watermark_slot_seconds <= 10:
        raise ConfigError(f"{ENV_PREFIX}WATERMARK_SLOT_SECONDS: expected 0.2 to 10")
    if not 1 <= settings.watermark_strength <= 16:
        raise ConfigError(f"{ENV_PREFIX}WATERMARK_STRENGTH: expected 1 to 16")
    if settings.token_ttl_seconds <= 0:
        raise ConfigError(f"{ENV_PREFIX}TOKEN_TTL_SECONDS: must be positive")
    if not 1 <= settings.library_probe_workers <= 64:
        raise ConfigError(f"{ENV_PREFIX}LIBRARY_PROBE_WORKERS: expected 1 to 64")
    if settings.rtmp_public_url and not settings.rtmp_public_url.startswith(
        ("rtmp://", "rtmps://")
    ):
        raise ConfigError(f"{ENV_PREFIX}RTMP_PUBLIC_URL: expected rtmp:// or rtmps://")
    if settings.watch_token_ttl_seconds <= 0 or settings.preview_token_ttl_seconds <= 0:
        raise ConfigError(f"{ENV_PREFIX}WATCH_TOKEN_TTL_SECONDS / PREVIEW_...: must be positive")
    if settings.redis_url and not settings.redis_url.startswith(
        ("redis://", "rediss://", "unix://")
    ):
        raise ConfigError(f"{ENV_PREFIX}REDIS_URL: expected redis://, rediss:// or unix://")
    if not settings.redis_key_prefix or any(c.isspace() for c in settings.redis_key_prefix):
        raise ConfigError(f"{ENV_PREFIX}REDIS_KEY_PREFIX: must be non-empty, without spaces")
    from palinsesto.outbound.policy import AllowRuleError, parse_allow_rules

    try:
        parse_allow_rules(settings.outbound_allow_networks)
    except AllowRuleError as exc:
        raise ConfigError(f"{ENV_PREFIX}OUTBOUND_ALLOW_NETWORKS: {exc}") from None
    if settings.login_max_failures <= 0 or settings.login_account_max_failures <= 0:
        raise ConfigError(f"{ENV_PREFIX}LOGIN_MAX_FAILURES / LOGIN_ACCOUNT_...: must be positive")
    if settings.archive_quota_mb < 0 or settings.archive_prune_seconds <= 0:
        raise ConfigError(
            f"{ENV_PREFIX}ARCHIVE_QUOTA_MB must be >= 0, ARCHIVE_PRUNE_SECONDS positive"
        )
    if settings.node_egress_mbps <= 0 or settings.node_max_channels <= 0:
        raise ConfigError(f"{ENV_PREFIX}NODE_EGRESS_MBPS / NODE_MAX_CHANNELS: must be positive")
    if settings.login_window_seconds <= 0:
        raise ConfigError(f"{ENV_PREFIX}LOGIN_WINDOW_SECONDS: must be positive")
    if min(settings.upload_max_bytes, settings.upload_chunk_max_bytes) <= 0:
        raise ConfigError(
            f"{ENV_PREFIX}UPLOAD_MAX_BYTES / UPLOAD_CHUNK_MAX_BYTES: must be positive"
        )
    if settings.upload_expiry_seconds <= 0:
        raise ConfigError(f"{ENV_PREFIX}UPLOAD_EXPIRY_SECONDS: must be positive")
    try:
        TrustedProxies.parse(settings.trusted_proxies)
    except ValueError as exc:
        raise ConfigError(f"{ENV_PREFIX}TRUSTED_PROXIES: {exc}") from None
    if settings.signup not in SIGNUP_MODES:
        raise ConfigError(f"{ENV_PREFIX}SIGNUP: expected one of {', '.join(SIGNUP_MODES)}")
    if settings.signup_per_hour <= 0 or settings.usage_sample_seconds <= 0:
        raise ConfigError(f"{ENV_PREFIX}SIGNUP_PER_HOUR / USAGE_SAMPLE_SECONDS: must be positive")
    if settings.storage_sample_seconds <= 0:
        raise ConfigError(f"{ENV_PREFIX}STORAGE_SAMPLE_SECONDS: must be positive")
    if settings.node_heartbeat_seconds <= 0 or settings.node_lease_seconds <= (
        settings.node_heartbeat_seconds
    ):
        raise ConfigError(
            f"{ENV_PREFIX}NODE_LEASE_SECONDS must exceed NODE_HEARTBEAT_SECONDS (> 0)"
        )
    if settings.play_token_ttl_seconds <= 0:
        raise ConfigError(f"{ENV_PREFIX}PLAY_TOKEN_TTL_SECONDS: must be positive")
    if settings.counter_notice_business_days < 0 or settings.legal_jobs_seconds <= 0:
        raise ConfigError(
            f"{ENV_PREFIX}COUNTER_NOTICE_BUSINESS_DAYS must be >= 0, LEGAL_JOBS_SECONDS positive"
        )
    if not 0 < settings.ip_truncate_days <= settings.ip_remove_days:
        raise ConfigError(
            f"{ENV_PREFIX}IP_TRUNCATE_DAYS must be positive and at most IP_REMOVE_DAYS"
        )
    if settings.smtp_url and not settings.smtp_url.startswith(("smtp://", "smtps://")):
        raise ConfigError(f"{ENV_PREFIX}SMTP_URL: expected smtp://host:port or smtps://...")
    if settings.smtp_url and "@" not in settings.mail_from:
        raise ConfigError(f"{ENV_PREFIX}MAIL_FROM: an address is needed to send mail")
    if settings.geoip_db and not Path(settings.geoip_db).is_file():
        raise ConfigError(f"{ENV_PREFIX}GEOIP_DB: no such file: {settings.geoip_db}")
    url = settings.effective_database_url
    if not url.startswith(("sqlite", "postgresql")):
        raise ConfigError(f"{ENV_PREFIX}DATABASE_URL: only sqlite and postgresql are supported")


def ensure_data_dir(settings: Settings) -> Path:
    """The data directory, made (or narrowed) to 0700: it holds the database, with line
    passwords and stream keys in clear, the signing key and uploaded guides."""
    path = settings.data_dir
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def ensure_secret_key(settings: Settings) -> Settings:
    """Give the settings a signing key: the configured one, or one kept in the data dir."""
    if settings.secret_key:
        return settings
    path = ensure_data_dir(settings) / "secret.key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    path.chmod(0o600)  # also a key written by an older version, or by hand
    return replace(settings, secret_key=path.read_text().strip())
