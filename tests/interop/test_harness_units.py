"""The harness's pure parts (no root needed): swanctl output parsing and generated config."""

from __future__ import annotations

from pathlib import Path

from tests.interop.harness import (
    DEFAULT_PLUGINS,
    CharonSettings,
    parse_list_sas,
    parse_vici_pretty,
    psk_gateway_conf,
    strongswan_conf,
)

LIST_SAS = """\
list-sa event {
  gw {
    uniqueid = 2
    version = 2
    state = ESTABLISHED
    local-host = 203.0.113.1
    local-port = 4500
    local-id = C=CH, O=tunnelgate, CN=gw a
    remote-host = 203.0.113.2
    initiator = yes
    initiator-spi = 155cf910cde8b3a4
    responder-spi = d3ae7c14815d1ee9
    nat-any = yes
    encr-alg = AES_CBC
    encr-keysize = 256
    dh-group = MODP_2048
    child-sas {
      gw-1 {
        name = gw
        uniqueid = 1
        state = DELETED
        spi-in = 4c4e6a4a
        spi-out = b6a87771
        local-ts = [
          10.1.0.0/24
        ]
      }
      gw-2 {
        name = gw
        uniqueid = 2
        state = INSTALLED
        protocol = ESP
        encap = yes
        spi-in = eac42aea
        spi-out = c3a38d1a
        encr-alg = AES_GCM_16
        local-ts = [
          10.1.0.0/24
          10.1.1.0/24
        ]
        remote-ts = [
          10.2.0.0/24
        ]
      }
    }
  }
}
list-sas reply {
}
"""


def test_parse_list_sas() -> None:
    (sa,) = parse_list_sas(LIST_SAS)
    assert (sa.name, sa.uniqueid, sa.state, sa.initiator, sa.nat_any) == (
        "gw",
        "2",
        "ESTABLISHED",
        True,
        True,
    )
    assert sa.raw["local-id"] == "C=CH, O=tunnelgate, CN=gw a"
    assert (sa.initiator_spi, sa.dh_group, sa.local_port) == (
        "155cf910cde8b3a4",
        "MODP_2048",
        "4500",
    )
    assert [c.state for c in sa.children] == ["DELETED", "INSTALLED"]
    (child,) = sa.installed("gw")
    assert child is sa.child("gw")
    assert (child.spi_in, child.spi_out, child.encap, child.encr_alg) == (
        "eac42aea",
        "c3a38d1a",
        True,
        "AES_GCM_16",
    )
    assert child.local_ts == ("10.1.0.0/24", "10.1.1.0/24")
    assert child.remote_ts == ("10.2.0.0/24",)


def test_parse_events_and_empty_reply() -> None:
    events = parse_vici_pretty(LIST_SAS)
    assert [name for name, _ in events] == ["list-sa event", "list-sas reply"]
    assert parse_list_sas("list-sas reply {\n}\n") == []


def test_strongswan_conf_is_self_contained(tmp_path: Path) -> None:
    text = strongswan_conf(
        CharonSettings(aggressive_psk_responder=True),
        vici_socket=tmp_path / "charon.vici",
        log_file=tmp_path / "charon.log",
    )
    assert "include" not in text
    assert "load_modular = no" in text
    assert f"socket = unix://{tmp_path}/charon.vici" in text
    assert f"path = {tmp_path}/charon.log" in text
    assert "i_dont_care_about_security_and_use_aggressive_mode_psk = yes" in text
    assert "retransmit_timeout = 1\n" in text
    assert DEFAULT_PLUGINS.index("kernel-libipsec") < DEFAULT_PLUGINS.index("kernel-netlink")
    assert "kdf" in DEFAULT_PLUGINS  # 5.9.8 derives IKE keys through it
    plain = strongswan_conf(CharonSettings(), vici_socket=tmp_path / "v", log_file=tmp_path / "l")
    assert "aggressive_mode_psk" not in plain


def test_psk_gateway_conf() -> None:
    text = psk_gateway_conf(
        local_addr="203.0.113.1",
        remote_addr="203.0.113.2",
        local_ts="10.1.0.0/24",
        remote_ts="10.2.0.0/24",
        version=1,
        aggressive=True,
    )
    assert "version = 1" in text and "aggressive = yes" in text
    assert "local_ts = 10.1.0.0/24" in text and "remote_ts = 10.2.0.0/24" in text
    assert text.count("{") == text.count("}")
