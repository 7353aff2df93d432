"""docs/interface.md (the public contract) says what the code does: its commands and flags
parse, every command the code has is in it, its routes are served by a real relay's router,
its roles are the code's roles, and every error status it lists has an error class in
window/errors.py.

Parts of contract v2 that other issues are building are listed in ``PENDING``: allowed to be
missing for now (never wrong once they exist). Remove an entry when its work lands."""

from __future__ import annotations

import argparse
import inspect
import re
from pathlib import Path

from servers import make_config

from window import errors
from window.app import Server
from window.auth.roles import Role
from window.cli import build_parser

DOC = (Path(__file__).resolve().parent.parent / "docs" / "interface.md").read_text()

PENDING = {
    "roles": set(),
    "statuses": set(),
}


def section(title: str) -> str:
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", DOC, re.S | re.M)
    assert m, f"docs/interface.md has no section {title!r}"
    return m.group(1)


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def options(parser: argparse.ArgumentParser) -> set[str]:
    return {o for a in parser._actions for o in a.option_strings}


def documented_commands() -> list[tuple[list[str], set[str]]]:
    """(``["token", "create"]``, ``{"--role", …}``) for each ``window …`` item of the CLI
    section (an item may name two commands, such as backup and restore)."""
    out = []
    for item in re.split(r"^- ", section("Command line (console script `window`)"), flags=re.M):
        for code in re.findall(r"`(window [^`]+)`", item):
            words = code.split()[1:]
            path = [w for w in words[:2] if re.fullmatch(r"[a-z]+", w)]
            if path and path[0] == "token" and len(path) == 1:
                continue
            out.append((path, set(re.findall(r"(--[a-z-]+)", code))))
    return out


def test_every_documented_command_and_flag_exists() -> None:
    top = subparsers(build_parser())
    found = documented_commands()
    assert len(found) >= 6, found
    for path, flags in found:
        parser = top.get(path[0])
        assert parser is not None, f"`window {path[0]}` is documented but does not exist"
        if len(path) > 1 and subparsers(parser):
            parser = subparsers(parser).get(path[1])
            assert parser is not None, f"`window {' '.join(path)}` does not exist"
        missing = flags - options(parser)
        assert not missing, f"`window {' '.join(path)}`: documented flags missing {missing}"


def test_every_command_of_the_code_is_documented() -> None:
    documented = {" ".join(p[:1]) for p, _ in documented_commands()}
    top = subparsers(build_parser())
    assert set(top) <= documented, f"not in docs/interface.md: {set(top) - documented}"
    token_cmds = {" ".join(p) for p, _ in documented_commands() if p[0] == "token"}
    text = section("Command line (console script `window`)") + DOC
    for sub in subparsers(top["token"]):
        assert f"token {sub}" in token_cmds or f"window token {sub}" in text, sub


def test_documented_roles_are_the_codes() -> None:
    table = section("Roles")
    roles = set(re.findall(r"^\| `([a-z]+)`", table, re.M))
    code = {r.value for r in Role}
    assert code <= roles, f"roles in the code, not in the doc: {code - roles}"
    assert roles - code <= PENDING["roles"], f"documented roles missing: {roles - code}"


def test_documented_error_statuses_have_an_error_class() -> None:
    text = section("HTTP")
    listed = {int(s) for s in re.findall(r"`(\d{3})`", text.split("Errors,", 1)[1])}
    assert {400, 401, 403, 404, 503} <= listed
    classes = {c.status for _, c in inspect.getmembers(errors, inspect.isclass)
               if issubclass(c, errors.WindowError) and c is not errors.WindowError}
    missing = listed - classes - PENDING["statuses"]
    assert not missing, f"statuses in docs/interface.md without an error class: {missing}"


async def test_documented_routes_are_served(tmp_path: Path) -> None:
    server = Server(make_config(tmp_path, privacy={"mode": "full"}))
    routes = {(r.method, r.resource.canonical) for r in server.app.router.routes()
              if r.resource is not None}
    documented = set(re.findall(r"`(GET|POST|PUT|PATCH|DELETE|OPTIONS) (/[^` ]*)`",
                                section("HTTP")))
    documented |= {("GET", p.split("#")[0]) for p in
                   re.findall(r"^- `(/[^`#]+)#token", section("Pages"), re.M)}
    assert len(documented) >= 8, documented
    # DELETE {Location}: the Location the server hands out is /whip|whep/{site}/{session}
    for kind in ("whip", "whep"):
        documented.add(("DELETE", f"/{kind}/{{site}}/{{session}}"))
    # OPTIONS for CORS preflight may be answered by a catch-all; the rest must be exact.
    missing = {(m, p) for m, p in documented if (m, p) not in routes
               and not (m == "OPTIONS" and ("*", p) in routes)
               and not (m == "GET" and ("*", p) in routes)}
    assert not missing, f"documented, not served: {sorted(missing)}"
