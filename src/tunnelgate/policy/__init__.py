"""The decisions of the spec as pure functions over compiled policy values.

Nothing here knows the configuration text: ``tunnelgate.config.compile`` turns a
``RunningConfig`` into these values (the SPD, proposals, tunnel groups).
"""
