"""Cross-checks against an independent decoder and encoder: scapy's IKEv2 layer."""

from __future__ import annotations

from ipaddress import ip_address
from typing import Any

from scapy.contrib.ikev2 import (
    IKEv2,
    IKEv2_AUTH,
    IKEv2_CERTREQ,
    IKEv2_CP,
    IKEv2_Delete,
    IKEv2_IDi,
    IKEv2_KE,
    IKEv2_Nonce,
    IKEv2_Notify,
    IKEv2_Proposal,
    IKEv2_SA,
    IKEv2_Transform,
    IKEv2_TSi,
    IKEv2_TSr,
    IKEv2_VendorID,
    IPv4TrafficSelector,
    IPv6TrafficSelector,
)

from tests.unit.ike.v2.samples import IKE_AUTH_INNER, IKE_SA_INIT_REQUEST, SPI_I
from tunnelgate.ike.v2.constants import (
    AuthMethod,
    CertEncoding,
    DhId,
    EncrId,
    ExchangeType,
    HeaderFlag,
    IdType,
    IntegId,
    NotifyType,
    PrfId,
    ProtocolId,
    TransformType,
)
from tunnelgate.ike.v2.message import Header, Message, decode_message, encode_message
from tunnelgate.ike.v2.payloads import (
    AuthPayload,
    CertreqPayload,
    CpPayload,
    DeletePayload,
    IdiPayload,
    KePayload,
    NoncePayload,
    NotifyPayload,
    Proposal,
    SaPayload,
    TsiPayload,
    TsrPayload,
    VendorIdPayload,
)


def _chain(layer: Any) -> list[Any]:
    """A scapy layer and the payload layers chained after it."""
    layers = []
    while layer is not None and layer.name != "NoPayload" and layer.name != "Raw":
        layers.append(layer)
        layer = layer.payload
    return layers


def _check_proposals(scapy_sa: Any, proposals: tuple[Proposal, ...]) -> None:
    scapy_proposals = _chain(scapy_sa.prop)
    assert len(scapy_proposals) == len(proposals)
    for sp, proposal in zip(scapy_proposals, proposals, strict=True):
        assert isinstance(sp, IKEv2_Proposal)
        assert (sp.proposal, sp.proto, sp.SPI) == (
            proposal.number,
            proposal.protocol_id,
            proposal.spi,
        )
        assert sp.trans_nb == len(proposal.transforms)
        scapy_transforms = _chain(sp.trans)
        assert len(scapy_transforms) == len(proposal.transforms)
        for st, transform in zip(scapy_transforms, proposal.transforms, strict=True):
            assert isinstance(st, IKEv2_Transform)
            assert (st.transform_type, st.transform_id) == (
                transform.transform_type,
                transform.transform_id,
            )
            if transform.key_length is None:
                assert st.length == 8
            else:
                assert st.key_length == transform.key_length


def test_scapy_decodes_our_ike_sa_init_request() -> None:
    data = encode_message(IKE_SA_INIT_REQUEST)
    pkt = IKEv2(data)
    header = IKE_SA_INIT_REQUEST.header
    assert (pkt.init_SPI, pkt.resp_SPI) == (header.spi_i, header.spi_r)
    assert (pkt.version, pkt.exch_type, pkt.id, pkt.length) == (0x20, 34, 0, len(data))
    assert int(pkt.flags) == HeaderFlag.INITIATOR
    layers = _chain(pkt.payload)
    assert len(layers) == len(IKE_SA_INIT_REQUEST.payloads)
    for layer, payload in zip(layers, IKE_SA_INIT_REQUEST.payloads, strict=True):
        if isinstance(payload, SaPayload):
            assert isinstance(layer, IKEv2_SA)
            _check_proposals(layer, payload.proposals)
        elif isinstance(payload, KePayload):
            assert isinstance(layer, IKEv2_KE)
            assert (layer.group, layer.ke) == (payload.dh_group, payload.data)
        elif isinstance(payload, NoncePayload):
            assert isinstance(layer, IKEv2_Nonce)
            assert layer.nonce == payload.data
        elif isinstance(payload, NotifyPayload):
            assert isinstance(layer, IKEv2_Notify)
            assert (layer.type, layer.notify, layer.proto, layer.SPIsize) == (
                payload.notify_type,
                payload.data,
                0,
                0,
            )
        else:
            assert isinstance(payload, VendorIdPayload)
            assert isinstance(layer, IKEv2_VendorID)
            assert layer.vendorID == payload.data


def test_scapy_decodes_our_auth_payloads() -> None:
    """IKE_AUTH-style payloads (normally inside SK) sent in clear so scapy can read them."""
    extra = (
        IdiPayload(IdType.ID_FQDN, b"gw.example.net"),
        AuthPayload(AuthMethod.SHARED_KEY_MESSAGE_INTEGRITY_CODE, bytes(range(32))),
        CertreqPayload(CertEncoding.X509_CERTIFICATE_SIGNATURE, bytes(20)),
        DeletePayload(ProtocolId.ESP, (b"\x01\x02\x03\x04", b"\x05\x06\x07\x08")),
    )
    message = Message(
        Header(SPI_I, bytes(8), ExchangeType.IKE_AUTH, HeaderFlag.INITIATOR, 1),
        extra + IKE_AUTH_INNER,
    )
    layers = _chain(IKEv2(encode_message(message)).payload)
    assert [type(layer) for layer in layers] == [
        IKEv2_IDi,
        IKEv2_AUTH,
        IKEv2_CERTREQ,
        IKEv2_Delete,
        IKEv2_CP,
        IKEv2_SA,
        IKEv2_TSi,
        IKEv2_TSr,
    ]
    idi, auth, certreq, delete, cp, sa, tsi, tsr = layers
    assert (idi.IDtype, idi.ID) == (2, b"gw.example.net")
    assert (auth.auth_type, auth.load) == (2, bytes(range(32)))
    assert (certreq.cert_encoding, certreq.cert_authority) == (4, bytes(20))
    assert (delete.proto, delete.SPIsize, delete.SPInum) == (3, 4, 2)
    assert delete.SPI == [b"\x01\x02\x03\x04", b"\x05\x06\x07\x08"]
    cp_payload, sa_payload, tsi_payload, tsr_payload = IKE_AUTH_INNER
    assert isinstance(cp_payload, CpPayload)
    assert cp.CFGType == cp_payload.config_type
    assert [(a.type, a.length) for a in cp.attributes] == [
        (a.attribute_type, len(a.value)) for a in cp_payload.attributes
    ]
    assert isinstance(sa_payload, SaPayload)
    _check_proposals(sa, sa_payload.proposals)
    for layer, payload in ((tsi, tsi_payload), (tsr, tsr_payload)):
        assert isinstance(payload, TsiPayload | TsrPayload)
        assert layer.number_of_TSs == len(payload.selectors)
        for sts, ts in zip(layer.traffic_selector, payload.selectors, strict=True):
            assert sts.TS_type == ts.ts_type
            assert (sts.IP_protocol_ID, sts.start_port, sts.end_port) == (
                ts.ip_protocol,
                ts.start_port,
                ts.end_port,
            )
            v = "v4" if ts.start_address.version == 4 else "v6"
            assert ip_address(getattr(sts, f"starting_address_{v}")) == ts.start_address
            assert ip_address(getattr(sts, f"ending_address_{v}")) == ts.end_address


def test_we_decode_scapy_built_ike_sa_init() -> None:
    spi = bytes.fromhex("0011223344556677")
    proposals = IKEv2_Proposal(
        proposal=1,
        proto=1,
        trans_nb=4,
        trans=IKEv2_Transform(transform_type=1, transform_id=20, length=12, key_length=256)
        / IKEv2_Transform(transform_type=2, transform_id=7)
        / IKEv2_Transform(transform_type=4, transform_id=21)
        / IKEv2_Transform(transform_type=4, transform_id=31),
    ) / IKEv2_Proposal(
        proposal=2,
        proto=1,
        trans_nb=4,
        trans=IKEv2_Transform(transform_type=1, transform_id=12, length=12, key_length=128)
        / IKEv2_Transform(transform_type=3, transform_id=12)
        / IKEv2_Transform(transform_type=2, transform_id=5)
        / IKEv2_Transform(transform_type=4, transform_id=14),
    )
    pkt = (
        IKEv2(init_SPI=spi, resp_SPI=bytes(8), exch_type=34, flags="Initiator", id=0)
        / IKEv2_SA(prop=proposals)
        / IKEv2_KE(group=21, ke=bytes(range(132)))
        / IKEv2_Nonce(nonce=bytes(range(32, 64)))
        / IKEv2_Notify(type=16388, notify=bytes(20))
        / IKEv2_Notify(type=16389, notify=b"\xff" * 20)
        / IKEv2_Notify(type=16430)
        / IKEv2_Notify(type=16431, notify=bytes.fromhex("00020003"))
        / IKEv2_VendorID(vendorID=b"scapy")
        / IKEv2_TSi(
            traffic_selector=[
                IPv4TrafficSelector(
                    IP_protocol_ID=17,
                    start_port=500,
                    end_port=500,
                    starting_address_v4="192.0.2.1",
                    ending_address_v4="192.0.2.9",
                ),
                IPv6TrafficSelector(
                    length=40,  # scapy's default (20) is wrong: RFC 7296 §3.13.1 says 40
                    IP_protocol_ID=0,
                    starting_address_v6="2001:db8::1",
                    ending_address_v6="2001:db8::2",
                ),
            ]
        )
    )
    data = bytes(pkt)
    message = decode_message(data)
    assert encode_message(message) == data
    h = message.header
    assert (h.spi_i, h.exchange_type, h.flags, h.message_id) == (
        spi,
        ExchangeType.IKE_SA_INIT,
        HeaderFlag.INITIATOR,
        0,
    )
    sa = message.find(SaPayload)
    assert sa is not None
    first, second = sa.proposals
    assert [(t.transform_type, t.transform_id, t.key_length) for t in first.transforms] == [
        (TransformType.ENCR, EncrId.ENCR_AES_GCM_16, 256),
        (TransformType.PRF, PrfId.PRF_HMAC_SHA2_512, None),
        (TransformType.DH, DhId.ECP_521, None),
        (TransformType.DH, DhId.CURVE25519, None),
    ]
    assert second.number == 2
    assert second.transforms[0].key_length == 128
    assert second.transforms[1].transform_id == IntegId.AUTH_HMAC_SHA2_256_128
    assert message.find(KePayload) == KePayload(DhId.ECP_521, bytes(range(132)))
    assert message.find(NoncePayload) == NoncePayload(bytes(range(32, 64)))
    assert message.find_notify(NotifyType.NAT_DETECTION_DESTINATION_IP) == NotifyPayload(
        NotifyType.NAT_DETECTION_DESTINATION_IP, b"\xff" * 20
    )
    assert message.find_notify(NotifyType.IKEV2_FRAGMENTATION_SUPPORTED) is not None
    assert message.find(VendorIdPayload) == VendorIdPayload(b"scapy")
    tsi = message.find(TsiPayload)
    assert tsi is not None
    assert [(str(t.start_address), str(t.end_address), t.ip_protocol) for t in tsi.selectors] == [
        ("192.0.2.1", "192.0.2.9", 17),
        ("2001:db8::1", "2001:db8::2", 0),
    ]
    assert tsi.selectors[0].start_port == 500
