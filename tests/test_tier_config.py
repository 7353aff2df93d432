"""The audience tier's settings and tickets, without Janus."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from servers import small_config

from window.errors import ConfigError
from window.signalling.tier import check_ticket, mint_ticket


def test_tickets_open_one_site_until_they_expire() -> None:
    t = mint_ticket("secret", "bochum", 60, until=5000, now=1000)
    assert check_ticket("secret", "bochum", t, now=1059)
    assert not check_ticket("secret", "bochum", t, now=1061)
    assert not check_ticket("secret", "tsukuba", t, now=1000)
    assert not check_ticket("other", "bochum", t, now=1000)
    assert not check_ticket("secret", "bochum", "1100.00", now=1000)
    # the viewer's token expired: its ticket is worth nothing, whatever the ticket's expiry
    assert not check_ticket("secret", "bochum", mint_ticket("secret", "bochum", 60, until=999,
                                                            now=1000), now=1000)
    exp, until, nonce, mac = t.split(".")
    assert len(nonce) == 32 and nonce != mint_ticket("secret", "bochum", 60, 5000).split(".")[2]
    # a changed nonce or token expiry breaks the MAC
    assert not check_ticket("secret", "bochum", f"{exp}.{until}.{'0' * 32}.{mac}", now=1000)
    assert not check_ticket("secret", "bochum", f"{exp}.9999.{nonce}.{mac}", now=1000)


@pytest.mark.parametrize(("tier", "message"), [
    ({"whep_urls": ["http://t/whep/endpoint/b"]}, "the tier needs its own credential"),
    ({"whep_urls": ["ftp://t"], "token": "x"}, "is not an http(s) URL"),
    ({"use": "sometimes"}, "use: always, overflow or off"),
    ({"handoff": "dns"}, "handoff: proxy or redirect"),
    ({"token": "a", "token_file": "b"}, "token or token_file, not both"),
    ({"ticket_ttl_s": 3600}, "ticket_ttl_s: 5 to 600"),
])
def test_bad_tier_settings_name_the_key(tmp_path: Path, tier: dict[str, Any],
                                        message: str) -> None:
    with pytest.raises(ConfigError, match="sites.bochum.tier") as e:
        small_config(tmp_path, sites={"bochum": {"tier": tier}})
    assert message in str(e.value)


def test_the_pages_csp_lets_the_browser_follow_a_307_only_to_the_configured_tier(
        tmp_path: Path) -> None:
    from window.web.headers import content_security_policy

    def connect_src(**tier: Any) -> str:
        cfg = small_config(tmp_path, sites={"bochum": {"tier": {
            "whep_urls": ["https://user:pw@tier-a.example:8443/whep/endpoint/bochum?x=1",
                          "http://tier-b.example/whep/endpoint/bochum"],
            "token": "t", **tier}}})
        directive = next(d for d in content_security_policy(cfg).split("; ")
                         if d.startswith("connect-src"))
        return directive

    assert connect_src(handoff="redirect") == (
        "connect-src 'self' https://tier-a.example:8443 http://tier-b.example")
    assert connect_src(handoff="proxy") == "connect-src 'self'"  # the browser talks only to us
    assert connect_src(handoff="redirect", use="off") == "connect-src 'self'"
    assert content_security_policy(small_config(tmp_path)).count("connect-src 'self';") == 1


def test_a_tier_url_cannot_smuggle_a_csp_source(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not an http"):
        small_config(tmp_path, sites={"bochum": {"tier": {
            "whep_urls": ["http://t.example; script-src *"], "token": "t",
            "handoff": "redirect"}}})
