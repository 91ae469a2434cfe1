"""A two-site lab in Linux network namespaces: ``host-a | gw-a | inet | [nat] | gw-b | host-b``."""

from tunnelgate.lab.command import Lab
from tunnelgate.lab.netns import LabError

__all__ = ["Lab", "LabError"]
