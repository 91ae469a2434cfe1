"""How IKE and child SAs come and go, shared by all exchanges (RFC 7296 §1.3, §1.4, §2.17):
SPIs, establishing an IKE SA (with its DPD and rekey timers), deriving and recording child
SAs, and failing, deleting and forgetting IKE SAs, each reported as an event.
"""

from __future__ import annotations

from collections.abc import Sequence

from tunnelgate.crypto.registry import Kind, encryption, integrity_algorithm
from tunnelgate.ike.v2.constants import NotifyType
from tunnelgate.ike.v2.events import (
    ChildSaDeleted,
    ChildSaEstablished,
    IkeSaDeleted,
    IkeSaEstablished,
    IkeSaFailed,
)
from tunnelgate.ike.v2.keymat import derive_child_keys
from tunnelgate.ike.v2.payloads import NotifyPayload, Payload
from tunnelgate.ike.v2.state import Child, IkeSa
from tunnelgate.ike.v2.task_manager import TaskManager
from tunnelgate.policy.crypto_map import MapEntry
from tunnelgate.policy.refusal import Refusal
from tunnelgate.policy.selector import Selector
from tunnelgate.policy.tunnel_group_lookup import find_tunnel_group


class SaLifecycle(TaskManager):
    """Creating, establishing and removing IKE and child SAs, for the exchange tasks."""

    def find_child(self, spi_in: bytes) -> tuple[IkeSa, Child]:
        for sa in self.sas.values():
            if spi_in in sa.children:
                return sa, sa.children[spi_in]
        raise KeyError(f"no child SA with inbound SPI {spi_in.hex()}")

    def _established(self, sa: IkeSa, now: float) -> None:
        assert sa.choice is not None
        sa.state = "established"
        sa.init_request = sa.init_response = b""  # only IKE_AUTH signs them
        match = find_tunnel_group(self.gateway, peer_address=sa.peer[0], version=2, auth="psk")
        keepalive = None if isinstance(match, Refusal) else match.group.keepalive
        if keepalive is not None:  # (threshold, retry): a liveness check every threshold s
            sa.dpd_interval = float(keepalive[0])
            sa.dpd_at = now + sa.dpd_interval
            self._schedule(sa, sa.dpd_at)
        if sa.choice.lifetime_seconds:
            sa.rekey_at = now + sa.choice.lifetime_seconds * (1 - self._jitter(0.05, 0.15))
            self._schedule(sa, sa.rekey_at)
        c = sa.choice
        names = f"{c.encryption}/{c.integrity}/prf {c.prf}/group {c.group}"
        self._events.append(
            IkeSaEstablished(
                sa.spi_i,
                sa.spi_r,
                sa.peer,
                sa.initiator,
                names,
                c.lifetime_seconds,
                self._local_of(sa),
            )
        )

    def _child(
        self,
        sa: IkeSa,
        encr: str,
        integ: str,
        spi_in: bytes,
        spi_out: bytes,
        mode: str,
        selector: Selector,
        entry: MapEntry,
        *,
        nonces: tuple[bytes, bytes] | None = None,
        shared_secret: bytes = b"",
        initiator: bool | None = None,
        rekeyed: Child | None = None,
        now: float | None = None,
        peer_payloads: Sequence[Payload] = (),
    ) -> Child:
        """Derive the child's keys (RFC 7296 §2.17), record it and tell the owner."""
        assert sa.keys is not None
        a = self._algorithms(sa)
        nonce_i, nonce_r = nonces or (sa.nonce_i, sa.nonce_r)
        keys = derive_child_keys(
            a.prf,
            sa.keys.sk_d,
            encryption(Kind.ESP_V2_ENCRYPTION, encr),
            integrity_algorithm(Kind.ESP_V2_INTEGRITY, integ),
            nonce_i,
            nonce_r,
            shared_secret,
        )
        child = Child(spi_in, spi_out, encr, integ, mode, selector, entry)
        if now is not None:
            lifetime = float(entry.lifetime_seconds)
            child.expire_at = now + lifetime
            child.rekey_at = now + lifetime * (1 - self._jitter(0.05, 0.15))
        sa.children[spi_in] = child
        if now is not None:
            self._schedule(sa, child.rekey_at)
        self._events.append(
            ChildSaEstablished(
                spi_in,
                spi_out,
                encr,
                integ,
                mode,
                selector,
                entry.lifetime_seconds,
                entry.lifetime_kilobytes,
                keys,
                sa.initiator if initiator is None else initiator,
                entry.label,
                rekeyed.spi_in if rekeyed else None,
                not any(
                    isinstance(p, NotifyPayload)
                    and p.notify_type == NotifyType.ESP_TFC_PADDING_NOT_SUPPORTED
                    for p in peer_payloads
                ),
                sa.peer,
                sa.nat_detected,
                sa.spi_i,
                sa.spi_r,
                self._local_of(sa),
            )
        )
        return child

    def _fail(self, sa: IkeSa, notify: str, reason: str) -> None:
        sa.state = "failed"
        self._events.append(IkeSaFailed(sa.peer, notify, reason))
        self._remove(sa)

    def _ike_deleted(self, sa: IkeSa, reason: str) -> None:
        for child in list(sa.children.values()):
            self._events.append(ChildSaDeleted(child.spi_in, child.spi_out, reason))
        sa.children.clear()
        sa.state = "deleted"
        self._events.append(IkeSaDeleted(sa.spi_i, sa.spi_r, sa.peer, reason))
        self._remove(sa)

    def _remove(self, sa: IkeSa) -> None:
        self.sas.pop(sa.key, None)
        self._half_open.pop((sa.spi_i, sa.peer), None)

    def _new_spi(self) -> bytes:
        while True:
            spi = self.random(8)
            if spi != bytes(8) and spi not in self.sas:
                return spi

    def _new_child_spi(self) -> bytes:
        while True:
            spi = self.random(4)
            if int.from_bytes(spi, "big") > 255:  # SPIs 1-255 are reserved (RFC 4303)
                return spi

    def _jitter(self, low: float, high: float) -> float:
        """A uniform fraction in [low, high] from the injected random source."""
        return low + (high - low) * int.from_bytes(self.random(2), "big") / 0xFFFF
