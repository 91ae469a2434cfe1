"""Types of the C extension ``tunnelgate.esp._fast`` (``_fast.c``)."""

import builtins
from collections.abc import Mapping

class Sa:
    spi: int
    seq: int
    seq_stop: int
    packets: int
    bytes: int
    byte_stop: int
    enabled: int
    max_inner: int
    df_mode: int
    udp: int
    local: int
    peer: int
    peer_port: int
    window_size: int
    highest: int
    bitmap: int
    def __init__(
        self,
        keymat: builtins.bytes,
        spi: int,
        encrypt: bool,
        window_size: int = 64,
        cipher: str = "aes-gcm",
        auth_key: builtins.bytes = b"",
        digest: str = "",
        icv: int = 0,
    ) -> None: ...
    def seal(self, seq: int, inner: builtins.bytes, next_header: int) -> builtins.bytes: ...
    def open(self, esp: builtins.bytes) -> tuple[builtins.bytes, int] | str: ...
    def check(self, seq: int) -> bool: ...
    def commit(self, seq: int) -> bool: ...

class FastPath:
    def __init__(self, tun_fd: int, vnet_hdr: bool = False) -> None: ...
    def add_local(self, address: int, raw_fd: int, udp_fd: int) -> None: ...
    def udp_df(self, address: int, df: bool) -> None: ...
    def tun_burst(self, flows: Mapping[builtins.bytes, object], limit: int) -> list[bytes]: ...
    def udp_burst(
        self,
        fd: int,
        spis: Mapping[int, object],
        passed: Mapping[builtins.bytes, object],
        limit: int,
    ) -> list[tuple[tuple[str, int], bytes] | tuple[tuple[str, int], bytes, object]]: ...
    def esp_burst(
        self,
        fd: int,
        spis: Mapping[int, object],
        passed: Mapping[builtins.bytes, object],
        limit: int,
    ) -> list[tuple[tuple[str, int], bytes] | tuple[tuple[str, int], bytes, object]]: ...
    def counts(self) -> dict[str, int]: ...
