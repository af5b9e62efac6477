# Runs first at every boot: finishes or rolls back an interrupted deploy (fwswap.py, written by
# `straja deploy`), counts the boot and decides on safe mode (docs/firmware.md).
try:
    from fwswap import recover
except ImportError:  # a tree copied by hand, without the deploy tool's switch
    pass
else:
    recover()

from straja_node import safemode

safemode.check()
