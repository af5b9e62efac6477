"""Technician tools as a library: ports, sessions with a node, flashing, deploying, provisioning,
the monitor's views and the machine checks. The `straja` commands (straja.commands) use them."""
