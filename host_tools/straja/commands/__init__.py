"""The `straja` commands: argument parsing and output around the libraries (straja.tools, the
gateway, ...). straja.cli lists them in its COMMANDS table."""
