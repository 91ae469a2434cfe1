"""The gateway process: ``tunnelgate run`` (I/O around the sans-IO gateway) and its
control socket."""
