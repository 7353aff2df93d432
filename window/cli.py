"""The ``window`` command: serve, token, camera, demo, backup, restore."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import backup, logs
from .config import Config, load
from .durations import parse_duration
from .errors import ConfigError

log = logging.getLogger("window")

# SIGTERM to exit: the closing slate, closing sessions and the store must fit in this.
SHUTDOWN_BOUND_S = 10.0


def _add_config_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE", help="TOML configuration file")
    p.add_argument("--data", metavar="DIR", help="data dir (default ./window-data or $WINDOW_DATA)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="window", description="Virtual Window relay")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the relay")
    _add_config_flags(serve)
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    serve.add_argument("--dev-allow-privacy-off", action="store_true",
                       help="DEVELOPMENT ONLY: allow privacy mode 'off' (reported loudly)")

    token = sub.add_parser("token", help="mint or revoke access tokens")
    tsub = token.add_subparsers(dest="token_command", required=True)
    create = tsub.add_parser("create", help="print one signed token")
    create.add_argument("--role", required=True,
                        choices=["camera", "screen", "viewer", "admin", "relay"])
    create.add_argument("--site")
    create.add_argument("--ttl", help="30s, 15m, 12h, 30d (default from config)")
    create.add_argument("--subject", default="")
    create.add_argument("--max-sessions", type=int, default=None,
                        help="media sessions this token may hold at once (a link shared by a "
                             "class); default: limits.sessions_per_token of its role")
    _add_config_flags(create)
    revoke = tsub.add_parser("revoke", help="revoke a token by its id (jti)")
    revoke.add_argument("jti")
    revoke.add_argument("--reason", default="")
    _add_config_flags(revoke)

    camera = sub.add_parser("camera", help="publish a camera to a relay over WHIP")
    camera.add_argument("--server", required=True, help="relay URL, such as http://host:8080")
    camera.add_argument("--site", required=True)
    camera.add_argument("--token", required=True)
    camera.add_argument("--source", default="test",
                        help="test, a video file, rtsp://..., or /dev/videoN")

    backup.add_parsers(sub, _add_config_flags)

    demo = sub.add_parser("demo", help="relay plus simulated cameras for every site")
    demo.add_argument("--port", type=int, default=8080)
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--data", metavar="DIR", help="data dir (default: a temporary one)")
    demo.add_argument("--two-relays", action="store_true",
                      help="one relay per city (on --port and --port + 1), a push each way")
    return parser


def _load(args: argparse.Namespace, **server_flags: Any) -> Config:
    flags = {"server": {"data_dir": args.data, **server_flags}}
    return load(args.config, flags=flags)


def _run_until_signal(main: Any) -> int:
    """Run ``main(stop_event)``; SIGINT/SIGTERM set the event."""

    async def runner() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        result: int = await main(stop)
        return result

    return asyncio.run(runner())


def cmd_serve(args: argparse.Namespace) -> int:
    cfg = _load(args, host=args.host, port=args.port)
    logs.setup(args.log_level or cfg.log.level, cfg.log.format)
    from .app import Server
    from .tuning import limit_malloc_arenas, limit_opencv_threads

    limit_malloc_arenas()
    limit_opencv_threads()

    async def main(stop: asyncio.Event) -> int:
        server = Server(cfg, allow_privacy_off=args.dev_allow_privacy_off)
        await server.start()
        print(f"window relay on {server.url}", file=sys.stderr)
        await stop.wait()
        log.info("shutting down: viewers see the closing slate, then sessions close")
        try:
            await asyncio.wait_for(server.close(drain_s=1.0), timeout=SHUTDOWN_BOUND_S)
        except TimeoutError:
            log.error("shutdown took longer than %ss; exiting anyway", SHUTDOWN_BOUND_S)
            return 1
        log.info("stopped")
        return 0

    return _run_until_signal(main)


def cmd_token(args: argparse.Namespace) -> int:
    cfg = _load(args)
    from .auth.keys import load_keys
    from .auth.roles import Role
    from .auth.tokens import mint
    from .store import Store

    if args.token_command == "create":
        ttl = parse_duration(args.ttl or cfg.auth.default_ttl)
        if ttl > parse_duration(cfg.auth.max_ttl):
            raise ConfigError(f"--ttl: longer than auth.max_ttl ({cfg.auth.max_ttl})")
        token, _ = mint(cfg, load_keys(cfg), role=Role(args.role), ttl_s=ttl, site=args.site,
                        subject=args.subject, max_sessions=args.max_sessions)
        sys.stdout.write(token + "\n")
        return 0
    store = Store(cfg.data_path)
    try:
        store.revoke(args.jti, reason=args.reason)
        store.audit("cli", "token.revoke", args.jti, {"reason": args.reason})
    finally:
        store.close()
    print(f"revoked {args.jti}", file=sys.stderr)
    return 0


def cmd_camera(args: argparse.Namespace) -> int:
    logs.setup("info", "auto")
    from .camera import run_camera

    async def main(stop: asyncio.Event) -> int:
        return await run_camera(args.server, args.site, args.token, args.source, stop=stop)

    return _run_until_signal(main)


def cmd_demo(args: argparse.Namespace) -> int:
    logs.setup("info", "auto")
    from .demo import run_demo, run_two_relays_demo

    async def main(stop: asyncio.Event) -> int:
        data = Path(args.data) if args.data else None
        run = run_two_relays_demo if args.two_relays else run_demo
        return await run(args.host, args.port, data, stop)

    return _run_until_signal(main)


def cmd_backup(args: argparse.Namespace) -> int:
    return backup.cmd_backup(args, _load(args))


def cmd_restore(args: argparse.Namespace) -> int:
    return backup.cmd_restore(args, _load(args))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    commands = {"serve": cmd_serve, "token": cmd_token, "camera": cmd_camera, "demo": cmd_demo,
                "backup": cmd_backup, "restore": cmd_restore}
    try:
        return commands[args.command](args)
    except ConfigError as e:
        print(f"window: {e}", file=sys.stderr)
        return 2
    except ValueError as e:
        print(f"window: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
