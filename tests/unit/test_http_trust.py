"""The bridge's HTTP trust pieces without a server: settings grammar, Host check, sessions."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from appliance import settings as s
from bridge.security import HostCheck, Sessions, box_names


def lines_for(data: object) -> list[str]:
    with pytest.raises(s.SettingsError) as info:
        s.validate(data)
    return info.value.lines()


@pytest.mark.parametrize("bad", ["http://lightbox.lan", "lightbox.lan:5001", "*", "a..b",
                                 "lightbox.lan\n", "bad_name.lan", "*.*.lan"])
def test_allowed_hosts_must_be_host_names(bad: str) -> None:
    lines = lines_for({"bridge": {"allowed_hosts": [bad]}})
    assert lines and lines[0].startswith("bridge.allowed_hosts:"), lines
    assert "is not a host name" in lines[0]


def test_allowed_hosts_are_normalised() -> None:
    b = s.validate({"bridge": {"allowed_hosts": ["LightBox.LAN.", "*.Home.Arpa"]}}).bridge
    assert b.allowed_hosts == ["lightbox.lan", "*.home.arpa"]


@pytest.mark.parametrize(("given", "kept"), [("127.0.0.1", "127.0.0.1"), ("::1", "::1"),
                                              ("*", "*"), ("2001:DB8::1", "2001:db8::1")])
def test_trusted_proxy_is_an_address_or_any(given: str, kept: str) -> None:
    assert s.validate({"bridge": {"trusted_proxy": given}}).bridge.trusted_proxy == kept


@pytest.mark.parametrize("bad", ["proxy.lan", "10.0.0.0/8", "", "127.0.0.1 "])
def test_trusted_proxy_refuses_anything_else(bad: str) -> None:
    lines = lines_for({"bridge": {"trusted_proxy": bad}})
    assert lines[0].startswith("bridge.trusted_proxy:"), lines


def test_the_request_deadline_is_not_shorter_than_the_header_one() -> None:
    lines = lines_for({"bridge": {"header_timeout_s": 30, "request_timeout_s": 10}})
    assert "request_timeout_s" in lines[0] and "header_timeout_s" in lines[0]


@pytest.mark.parametrize("field", ["connection_limit", "header_timeout_s", "idle_timeout_s",
                                   "max_header_bytes", "session_max"])
def test_limits_refuse_zero(field: str) -> None:
    assert lines_for({"bridge": {field: 0}})[0].startswith(f"bridge.{field}:")


def test_host_check_allows_ip_literals_and_the_box_names_only() -> None:
    check = HostCheck(["lightbox.lan", "*.home.arpa"], ["https://proxy.example.net:8443"])
    name = socket.gethostname().split(".")[0].lower()
    for ok in ["10.0.0.7", "192.168.1.50:5001", "[::1]:5001", "[fe80::1]", "localhost",
               "LOCALHOST:5001", "ui.localhost", name, f"{name}.local", f"{name}.local.:80",
               "lightbox.lan", "kitchen.home.arpa", "proxy.example.net"]:
        assert check.allowed(ok), ok
    for bad in ["", "attacker.example", "lightbox.lan.attacker.example", "home.arpa",
                "1.2.3.4.nip.io", "0x7f000001", "evil@127.0.0.1", "127.0.0.1\n",
                "[::1", "[zz]", "a b", f"{name}.attacker.example"]:
        assert not check.allowed(bad), bad


def test_the_box_name_under_the_local_search_domains_is_its_own(tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("# by the router\nnameserver 192.168.178.1\nsearch fritz.box Home.Arpa.\n"
                    "domain lan\n")
    name = socket.gethostname().split(".")[0].lower()
    names = box_names(conf)
    assert {f"{name}.fritz.box", f"{name}.home.arpa", f"{name}.lan", f"{name}.local",
            "localhost"} <= names
    assert box_names(tmp_path / "missing") == {"localhost", socket.gethostname().lower(),
                                                name, f"{name}.local"}


def test_sessions_are_random_revocable_and_bounded() -> None:
    table = Sessions(max_age_s=3600, max_sessions=3)
    ids = [table.create() for _ in range(3)]
    assert len(set(ids)) == 3 and all(len(i) >= 40 for i in ids)
    assert all(table.valid(i) for i in ids)
    table.revoke(ids[1])
    assert not table.valid(ids[1]) and table.valid(ids[0])
    newer = [table.create() for _ in range(3)]
    # Full: the oldest went first, the table never grows past its bound.
    assert len(table) == 3 and not table.valid(ids[0]) and all(table.valid(i) for i in newer)
    assert not table.valid("made-up")


def test_sessions_expire() -> None:
    table = Sessions(max_age_s=0, max_sessions=10)
    sid = table.create()
    assert not table.valid(sid)
    table.create()
    assert len(table) == 1  # expired ones are swept when a new one starts
