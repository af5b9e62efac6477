"""Hardware-in-the-loop testing: one pytest suite for real boards and virtual nodes.

`plugin` is the pytest plugin (registered as the `straja` pytest11 entry point): options
`--node-port`, `--board`, `--power-cmd`, markers `hil`, `virtual_only`, `power_switch`, and the
fixtures `node` and `nodes`. `node.Node` is the handle a test gets; `virtual.FirmwareNode` is a
virtual node with the real firmware; `power` switches nodes off and on. hardware/hil-rig.md
describes a rig.
"""
