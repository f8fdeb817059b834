"""`lightbox bridge`: load settings, connect the MQTT link, serve the app with waitress.

Owns the bridge process lifecycle: settings (exit 78 when missing or invalid), logging,
the auth token file, starting the production WSGI server (waitress, never
Flask's development server; see ``bridge.server``) and a clean stop on
SIGTERM/SIGINT. Knows nothing of the render loop or the display.
"""

from __future__ import annotations

import argparse
import errno
import signal
import sys
from types import FrameType

import structlog

from appliance import logs
from appliance.cli import settings_arg, settings_path
from appliance.settings import EX_CONFIG, Settings, SettingsError, load, read_secret

#: The listen port is taken (another bridge, or the old one not gone yet): systemd retries.
EX_TEMPFAIL = 75

log = structlog.get_logger("bridge")


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    """Add --settings, --host and --port."""
    settings_arg(parser)
    parser.add_argument("--host", default=None, help="listen address (default: bridge.host)")
    parser.add_argument("--port", type=int, default=None, help="port (default: bridge.port)")


def load_settings(args: argparse.Namespace) -> Settings:
    """Return the settings; exit 78 when the file does not exist or is invalid.

    A missing file is not "run on defaults": a mistyped ``--settings`` would otherwise
    serve a bridge for the wrong device on the wrong broker without a word.
    """
    path = settings_path(args)
    if not path.exists():
        print(f"lightbox bridge: the settings file {path} does not exist; name the right one "
              "with --settings PATH (or $LIGHTBOX_SETTINGS)", file=sys.stderr)
        raise SystemExit(EX_CONFIG)
    try:
        return load(path, catalogue=None)  # animation names are the engine's to check
    except SettingsError as exc:
        for line in exc.lines():
            print(f"{path}: {line}", file=sys.stderr)
        raise SystemExit(EX_CONFIG) from None


def run(args: argparse.Namespace) -> int:
    """Serve until SIGTERM/SIGINT."""
    from bridge.app import create_app
    from bridge.link import MqttEngineLink
    from bridge.server import create_server

    settings = load_settings(args)
    b = settings.bridge
    logs.configure(settings.logging.level, settings.logging.format, settings.logging.dir,
                   "bridge")
    token: str | None = None
    if b.auth_token_file is not None:
        try:
            token = read_secret(b.auth_token_file)
        except (OSError, IndexError):
            token = None
        if not token:
            log.error("bridge_token_missing", path=str(b.auth_token_file),
                      hint="write a token into the file, or unset bridge.auth_token_file")
            return EX_CONFIG
    host = args.host or b.host
    port = args.port or b.port
    link = MqttEngineLink(settings)
    app = create_app(settings, link=link, auth_token=token)
    try:
        server = create_server(app, b, host, port)
    except OSError as exc:
        return _bind_failed(exc, host, port, args)
    hub = app.extensions["lightbox"].hub

    def stop(signum: int, frame: FrameType | None) -> None:
        log.info("stop_requested", signal=signal.Signals(signum).name)
        hub.close_all()
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        link.start()
    except (OSError, IndexError, ValueError) as exc:
        print(f"lightbox bridge: cannot read the broker credentials or TLS files "
              f"(bridge.mqtt_password_file, mqtt.tls): {exc}", file=sys.stderr)
        server.close()
        return EX_CONFIG
    log.info("bridge_started", url=f"http://{host}:{port}/", threads=b.threads,
             sse_max_clients=b.sse_max_clients, auth=token is not None,
             device_id=settings.device_id)
    try:
        server.run()
    finally:
        link.stop()
        log.info("bridge_exit", code=0)
    return 0


def _bind_failed(exc: OSError, host: str, port: int, args: argparse.Namespace) -> int:
    """Say in one line why the bridge cannot listen; 75 when the port is taken, else 78."""
    where = "--port" if args.port else "bridge.port"
    if exc.errno == errno.EADDRINUSE:
        print(f"lightbox bridge: port {port} on {host} is already in use (another bridge or "
              f"program holds it); stop that one or choose another port with {where}",
              file=sys.stderr)
        return EX_TEMPFAIL
    what = "--host" if args.host else "bridge.host"
    print(f"lightbox bridge: cannot listen on {host}:{port}: {exc.strerror or exc}; check "
          f"{what} (an address of this machine) and {where} (below 1024 needs root)",
          file=sys.stderr)
    return EX_CONFIG
