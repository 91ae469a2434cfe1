"""The harness proven on its own: two real charons bring up, use, rekey and close a tunnel."""

from __future__ import annotations

import os

import pytest

from tests.interop.conftest import StartCharon
from tests.interop.harness import (
    Charon,
    IkeSa,
    Netns,
    psk_gateway_conf,
    recv_datagrams,
    send_udp,
    topology_two_gateways,
    wait_until,
)

pytestmark = pytest.mark.interop

WAIT = 20.0  # seconds, the bound of every wait below


def only_ike(charon: Charon, name: str = "gw") -> IkeSa | None:
    """The single ESTABLISHED IKE SA ``name`` with exactly one INSTALLED child ``gw``."""
    sas = [sa for sa in charon.list_sas() if sa.name == name]
    if len(sas) == 1 and sas[0].state == "ESTABLISHED" and len(sas[0].installed("gw")) == 1:
        return sas[0]
    return None


def assert_pair(a: IkeSa, b: IkeSa) -> None:
    """Both ends agree on the IKE SA and on the CHILD SA, SPIs crosswise."""
    assert a.initiator_spi == b.initiator_spi and a.responder_spi == b.responder_spi
    assert (a.encr_alg, a.encr_keysize, a.integ_alg, a.prf_alg, a.dh_group) == (
        "AES_CBC",
        "256",
        "HMAC_SHA2_256_128",
        "PRF_HMAC_SHA2_256",
        "MODP_2048",
    )
    (ca,) = a.installed("gw")
    (cb,) = b.installed("gw")
    assert (ca.spi_in, ca.spi_out) == (cb.spi_out, cb.spi_in)
    for child in (ca, cb):
        assert (child.protocol, child.mode, child.encr_alg, child.encr_keysize) == (
            "ESP",
            "TUNNEL",
            "AES_GCM_16",
            "256",
        )
        # kernel-libipsec always claims NAT, so ESP goes in UDP on 4500.
        assert child.encap
    assert ca.local_ts == ("10.1.0.0/24",) and ca.remote_ts == ("10.2.0.0/24",)
    assert cb.local_ts == ("10.2.0.0/24",) and cb.remote_ts == ("10.1.0.0/24",)


def test_ikev2_psk_tunnel_up_traffic_rekey_down(netns: Netns, start_charon: StartCharon) -> None:
    gw_a, gw_b, _ = topology_two_gateways(netns)
    a = start_charon(
        gw_a,
        psk_gateway_conf(
            local_addr="203.0.113.1",
            remote_addr="203.0.113.2",
            local_ts="10.1.0.0/24",
            remote_ts="10.2.0.0/24",
        ),
        name="a",
    )
    b = start_charon(
        gw_b,
        psk_gateway_conf(
            local_addr="203.0.113.2",
            remote_addr="203.0.113.1",
            local_ts="10.2.0.0/24",
            remote_ts="10.1.0.0/24",
        ),
        name="b",
    )

    # Up: IKE SA ESTABLISHED and CHILD SA INSTALLED on both ends.
    a.initiate("gw", timeout=WAIT)
    sa_a = a.wait_established("gw", "gw", timeout=WAIT)
    sa_b = b.wait_established("gw", "gw", timeout=WAIT)
    assert sa_a.initiator and not sa_b.initiator
    assert sa_a.version == sa_b.version == "2"
    assert (sa_a.local_host, sa_a.remote_host) == ("203.0.113.1", "203.0.113.2")
    assert sa_a.local_port == sa_a.remote_port == "4500"
    assert_pair(sa_a, sa_b)

    # Traffic: one datagram 10.1.0.1 -> 10.2.0.1 crosses the tunnel (ESP-in-UDP in libipsec).
    payload = b"tunnelgate interop " + os.urandom(8).hex().encode()
    got = recv_datagrams(
        gw_b,
        "10.2.0.1",
        7777,
        timeout=5,
        ready=lambda: send_udp(gw_a, "10.1.0.1", "10.2.0.1", 7777, payload),
    )
    assert got == [payload]
    (child_b,) = only_ike_sa(b).installed("gw")
    assert int(str(child_b.raw.get("packets-in", "0"))) >= 1

    # Rekey of the CHILD SA: new SPIs on both ends, the old pair no longer installed.
    (old_child,) = sa_a.installed("gw")
    a.rekey(child="gw")

    def child_rekeyed(charon: Charon) -> IkeSa | None:
        sa = only_ike(charon)
        if sa is None:
            return None
        (child,) = sa.installed("gw")
        return (
            sa
            if {child.spi_in, child.spi_out}.isdisjoint({old_child.spi_in, old_child.spi_out})
            else None
        )

    sa_a = wait_until(lambda: child_rekeyed(a), timeout=WAIT, what="a: CHILD SA rekeyed")
    sa_b = wait_until(lambda: child_rekeyed(b), timeout=WAIT, what="b: CHILD SA rekeyed")
    assert sa_a.uniqueid == sa_b.uniqueid == "1"  # same IKE SA
    assert_pair(sa_a, sa_b)

    # Rekey of the IKE SA: new IKE SPIs, the CHILD SA moves over to the new IKE SA.
    old_spis = (sa_a.initiator_spi, sa_a.responder_spi)
    a.rekey(ike="gw")

    def ike_rekeyed(charon: Charon) -> IkeSa | None:
        sa = only_ike(charon)
        if sa is None or sa.initiator_spi in old_spis or sa.responder_spi in old_spis:
            return None
        return sa

    sa_a = wait_until(lambda: ike_rekeyed(a), timeout=WAIT, what="a: IKE SA rekeyed")
    sa_b = wait_until(lambda: ike_rekeyed(b), timeout=WAIT, what="b: IKE SA rekeyed")
    assert sa_a.uniqueid != "1" and sa_b.uniqueid != "1"
    assert_pair(sa_a, sa_b)

    # Down: terminate from the responder; both ends forget the IKE SA.
    b.terminate(ike="gw", timeout=WAIT)
    wait_until(lambda: not a.list_sas(), timeout=WAIT, what="a: no SAs")
    wait_until(lambda: not b.list_sas(), timeout=WAIT, what="b: no SAs")


def only_ike_sa(charon: Charon) -> IkeSa:
    sa = only_ike(charon)
    assert sa is not None, charon.list_sas()
    return sa
