"""(placeholder: filled in by the family's implementation)."""

from __future__ import annotations

from tunnelgate.config.commands.table import CommandTable
from tunnelgate.config.model import RunningConfig
from tunnelgate.config.render_types import Block, RenderOptions

COMMANDS = CommandTable()


def render(config: RunningConfig, options: RenderOptions) -> list[Block]:
    """Blocks for `show running-config`."""
    return []
