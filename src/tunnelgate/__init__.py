"""tunnelgate: a software IPsec VPN gateway configured and operated like a Cisco ASA."""

__version__ = "0.1.0"
