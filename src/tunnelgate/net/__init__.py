"""I/O shells around the sans-IO cores: UDP sockets, timers (and later TUN, raw ESP)."""
