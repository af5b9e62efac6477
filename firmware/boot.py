# Runs first at every boot: finishes or rolls back an interrupted deploy (fwswap.py, written by
# `straja deploy`), counts the boot and decides on safe mode (docs/firmware.md).
try:
    import fwswap
    fwswap.recover()
except Exception as e:  # a failed recovery must never stop the node from booting
    print("fwswap:", e)

from straja_node import safemode

safemode.check()
