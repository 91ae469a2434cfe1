"""Record real strongSwan first messages as codec vectors (run by hand, as root).

    sudo .venv/bin/python -m tests.interop.record_vectors [--out tests/vectors/strongswan]

For each vector, charon (initiator, in namespace ``a`` at 203.0.113.1) is loaded with a connection
with ``start_action = start`` towards 203.0.113.2, where a plain UDP socket on port 500 (in
namespace ``b``) receives the first datagram. No responder ever answers: only the initiator's first
message is recorded. The datagrams carry fresh random SPIs, nonces and key shares on every run, so
regenerating changes the bytes but not the structure. Writes ``<name>.bin``, ``vectors.json`` and
``README.md``.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

from tests.interop.harness import (
    Charon,
    Netns,
    psk_gateway_conf,
    recv_datagrams,
    run,
    topology_two_gateways,
)

OUT = Path(__file__).resolve().parents[1] / "vectors" / "strongswan"
LOCAL, REMOTE = "203.0.113.1", "203.0.113.2"


@dataclass(frozen=True)
class Vector:
    name: str
    version: int
    proposals: str
    esp_proposals: str
    aggressive: bool
    description: str


VECTORS = (
    Vector(
        "ike_sa_init_request_modp2048",
        2,
        "aes256gcm16-aes128gcm16-prfsha256-prfsha384-modp2048-ecp256-curve25519,"
        "aes256-aes128-sha256-sha384-modp2048-ecp256-curve25519",
        "aes256gcm16,aes256-sha256",
        False,
        "IKEv2 IKE_SA_INIT request, two proposals (AEAD and AES-CBC+HMAC), KE MODP-2048",
    ),
    Vector(
        "ike_sa_init_request_ecp256",
        2,
        "aes128gcm16-prfsha256-ecp256-modp2048,aes128-sha256-ecp256-modp2048",
        "aes128gcm16",
        False,
        "IKEv2 IKE_SA_INIT request, two proposals, KE ECP-256 (group 19)",
    ),
    Vector(
        "ike_sa_init_request_curve25519",
        2,
        "chacha20poly1305-aes256gcm16-prfsha512-curve25519-ecp256,"
        "aes256-sha512-sha256-curve25519-ecp256-modp2048",
        "chacha20poly1305",
        False,
        "IKEv2 IKE_SA_INIT request, ChaCha20-Poly1305 and AES-GCM, KE Curve25519 (group 31)",
    ),
    Vector(
        "ikev1_main_mode_1",
        1,
        "aes256-sha256-modp2048,aes128-sha1-modp2048,3des-sha1-modp1024",
        "aes256-sha256",
        False,
        "IKEv1 Main Mode message 1 (SA with one transform per proposal, vendor IDs)",
    ),
    Vector(
        "ikev1_aggressive_mode_1",
        1,
        "aes256-sha256-modp2048",
        "aes256-sha256",
        True,
        "IKEv1 Aggressive Mode message 1 (SA, KE MODP-2048, Nonce, ID, vendor IDs)",
    ),
)


def swanctl_conf(vector: Vector) -> str:
    return psk_gateway_conf(
        version=vector.version,
        local_addr=LOCAL,
        remote_addr=REMOTE,
        local_ts="10.1.0.0/24",
        remote_ts="10.2.0.0/24",
        proposals=vector.proposals,
        esp_proposals=vector.esp_proposals,
        aggressive=vector.aggressive,
        extra_conn="fragmentation = yes",
        extra_child="start_action = start",
    )


@dataclass(frozen=True)
class Recording:
    data: bytes
    #: charon's summary of the message, e.g. "IKE_SA_INIT request 0 [ SA KE No ... ]"
    generated: str
    #: from charon's start-up line, e.g. "5.9.8"
    strongswan: str


def record_one(vector: Vector) -> Recording:
    """The first datagram charon sends for ``vector``, with charon's own description of it."""
    with Netns() as netns:
        gw_a, gw_b, _ = topology_two_gateways(netns)
        charon = Charon(gw_a, swanctl_conf(vector), name=f"rec-{vector.name}")
        try:
            charon.start(load=False)
            got = recv_datagrams(gw_b, REMOTE, 500, count=1, timeout=10, ready=charon.load_all)
            if len(got) != 1:
                raise RuntimeError(f"{vector.name}: nothing received\n{charon.log_tail()}")
        finally:
            charon.stop()
        log = charon.log()
        generated = re.search(r"generating (.*)", log)
        version = re.search(r"\(strongSwan (\S+),", log)
        return Recording(
            got[0],
            generated.group(1).strip() if generated else "",
            version.group(1) if version else "?",
        )


def debian_version() -> str:
    out = run(["dpkg-query", "-W", "-f=${Version}", "strongswan-charon"], check=False).stdout
    return out.strip() or "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    today = datetime.date.today().isoformat()
    entries = []
    upstream = "?"
    for vector in VECTORS:
        recording = record_one(vector)
        data, generated, upstream = recording.data, recording.generated, recording.strongswan
        (out / f"{vector.name}.bin").write_bytes(data)
        entries.append(
            {
                "file": f"{vector.name}.bin",
                "description": vector.description,
                "ike_version": vector.version,
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "src": f"{LOCAL}:500",
                "dst": f"{REMOTE}:500",
                "proposals": vector.proposals,
                "esp_proposals": vector.esp_proposals,
                "aggressive": vector.aggressive,
                "charon_log": generated,
            }
        )
        print(f"{vector.name}.bin: {len(data)} bytes  {generated}")
    version = f"{upstream} (Debian strongswan-charon {debian_version()})"
    meta = {"strongswan": version, "recorded": today, "vectors": entries}
    (out / "vectors.json").write_text(json.dumps(meta, indent=2) + "\n")
    (out / "README.md").write_text(readme(version, today, entries))


def readme(version: str, today: str, entries: list[dict[str, object]]) -> str:
    rows = "\n".join(
        f"| `{e['file']}` | {e['size']} | {e['description']} | `{e['proposals']}` |"
        for e in entries
    )
    logs = "\n".join(f"{e['file']}: {e['charon_log']}" for e in entries)
    example = swanctl_conf(VECTORS[0])
    return textwrap.dedent(
        """\
        # strongSwan first messages (codec vectors)

        Real datagrams sent by strongSwan's charon, recorded byte for byte from a UDP socket: the
        IKE codec must parse each and re-encode it to the identical bytes. Generated by
        `tests/interop/record_vectors.py` (run by hand, as root:
        `.venv/bin/python -m tests.interop.record_vectors`); regenerating gives new random SPIs,
        nonces and key shares, same structure. `vectors.json` holds the same facts per file
        (size, sha256, proposals, charon's own summary of the message);
        `tests/interop/test_vectors.py` checks the files against it and walks their generic
        payload chains (and, as root, re-records them to compare the structure).

        - strongSwan: {version}, plugins as in `tests/interop/harness.py` (`openssl`, `kdf`,
          `curve25519`, `kernel-libipsec`, ...), default settings otherwise (fragmentation = yes).
        - Recorded: {today}, charon as initiator at {src} (namespace `a`) towards {dst}
          (namespace `b`, a plain Python UDP socket: nobody answers, so only message 1 exists).
        - The NAT-D hashes of the IKEv2 messages are computed over these addresses and ports and
          the message's SPIs (RFC 7296 2.23). charon with kernel-libipsec fakes the NATD_S_IP
          hash so that a peer always detects NAT; NATD_D_IP is genuine.

        | file | bytes | what | IKE proposals (`proposals` in swanctl.conf) |
        |---|---|---|---|
        {rows}

        charon's summary of each message (its payload list):

        ```
        {logs}
        ```

        The swanctl.conf of the first vector (the others differ in `version`, `proposals`,
        `esp_proposals` and `aggressive`, see `vectors.json`):

        ```
        {example}```
        """
    ).format(
        version=version,
        today=today,
        src=f"{LOCAL}:500",
        dst=f"{REMOTE}:500",
        rows=rows,
        logs=logs,
        example=example,
    )


if __name__ == "__main__":
    main()
