"""``show running-config``: every family's blocks in the ASA's order, with filters."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tunnelgate import __version__
from tunnelgate.config.commands import (
    aaa,
    access_list,
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
from tunnelgate.config.model import RunningConfig
from tunnelgate.config.render_types import Block, RenderOptions

Section = Callable[[RunningConfig, RenderOptions], list[Block]]

# The order of a real ASA's running configuration.
SECTIONS: tuple[Section, ...] = (
    system.render,
    interface.render,
    objects.render,
    access_list.render,
    logging_cmds.render,
    system.render_tail,
    aaa.render,
    ipsec.render,
    crypto_map.render,
    pki.render,
    isakmp.render,
    tunnel_group.render,
)

# ``show running-config crypto isakmp`` shows the IKE policies of both versions too.
FILTER_ALIASES: dict[tuple[str, ...], tuple[tuple[str, ...], ...]] = {
    ("crypto", "isakmp"): (("crypto", "isakmp"), ("crypto", "ikev1"), ("crypto", "ikev2")),
}


def render_blocks(config: RunningConfig, options: RenderOptions | None = None) -> list[Block]:
    options = options or RenderOptions()
    return [block for section in SECTIONS for block in section(config, options)]


def _selected(block: Block, prefixes: Sequence[tuple[str, ...]]) -> bool:
    words = block.lines[0].split()
    if words[:1] == ["no"]:
        words = words[1:]
    return any(tuple(words[: len(p)]) == p for p in prefixes)


def show_running_config(
    config: RunningConfig,
    filter_words: Sequence[str] = (),
    *,
    all: bool = False,
    mask: bool = True,
) -> str:
    """The text of ``show running-config [all] [FILTER…]``; filter words are canonical."""
    blocks = render_blocks(config, RenderOptions(all=all, mask=mask))
    key = tuple(filter_words)
    if key:
        prefixes = FILTER_ALIASES.get(key, (key,))
        return "".join(line + "\n" for b in blocks if _selected(b, prefixes) for line in b.lines)
    lines = [": Saved", ":", f": tunnelgate {__version__}", ":"]
    for block in blocks:
        lines.extend(block.lines)
    lines.append(": end")
    return "\n".join(lines) + "\n"


def render_config_text(config: RunningConfig) -> str:
    """The unmasked configuration that ``write memory`` saves and a load reads back."""
    return show_running_config(config, mask=False)
