"""Every configuration command of the language, compiled per mode."""

from __future__ import annotations

from functools import cache

from tunnelgate.config.commands import (
    aaa,
    access_list,
    clear,
    crypto_map,
    interface,
    ipsec,
    isakmp,
    objects,
    pki,
    system,
    tunnel_group,
)
from tunnelgate.config.commands import (
    logging as logging_cmds,
)
from tunnelgate.config.commands.table import CommandTable
from tunnelgate.config.grammar import ModeGrammar
from tunnelgate.config.modes import ALL_MODES, Mode

FAMILIES: tuple[CommandTable, ...] = (
    system.COMMANDS,
    aaa.COMMANDS,
    interface.COMMANDS,
    objects.COMMANDS,
    access_list.COMMANDS,
    logging_cmds.COMMANDS,
    isakmp.COMMANDS,
    ipsec.COMMANDS,
    crypto_map.COMMANDS,
    pki.COMMANDS,
    tunnel_group.COMMANDS,
    clear.COMMANDS,
)


@cache
def grammars() -> dict[Mode, ModeGrammar]:
    """One compiled grammar per mode, built once."""
    out = {mode: ModeGrammar(mode.name) for mode in ALL_MODES}
    for table in FAMILIES:
        for mode, spec in table:
            out[mode].add(spec)
    return out
