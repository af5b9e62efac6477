# Runs after boot.py unless boot.py chose safe mode. A crash (an unhandled exception, not Ctrl-C)
# is recorded before it propagates to the REPL, so boot.py can spot a crash loop.
from straja_node import safemode, state

if safemode.reason is None:
    try:
        from straja_node import app

        app.main()
    except Exception:
        state.record_crash(safemode.uptime_s())
        raise
