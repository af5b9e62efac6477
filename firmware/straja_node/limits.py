"""The firmware's limits on a scan plan (docs/firmware.md, "Scan plans"): the config refuses a plan
beyond them, and the host (the gateway's focus plans, its checks of a node's replies) keeps
inside them. Plain constants: the host imports this module as it is (the rules on a plan's keys
and names are plan.py's: a board keeps a module's constant tables only while it holds functions)."""

PLAN_MAX = 8  # plan entries
CHANNELS_MAX = 2048  # channels in one sweep entry
# one sweep, and one envelope block (a single blocking step), must finish inside a heartbeat
# period and well inside the watchdog's (WATCHDOG_MS_MIN)
SWEEP_US_MAX = 1000000
REVISIT_MAX = 64  # channels per block of a revisit sweep (docs/firmware.md, "Revisit")
KHZ_MAX = 10000000  # frequencies and steps, kHz (10 GHz: above every front end)
DWELL_US_MIN = 50  # a reading's dwell; DWELL_US_MAX a whole sweep's time
DWELL_US_MAX = SWEEP_US_MAX
RATE_HZ_MIN = 100  # an envelope block's sample rate
RATE_HZ_MAX = 200000
ENVELOPE_N_MIN = 16  # samples in an envelope block (at most wire.MAX_ENVELOPE_SAMPLES)
ENVELOPE_N_DEFAULT = 256  # an envelope entry's samples when it gives no "n"
TEMP_S_MAX = 3600  # the longest a temporary plan (`plan PLAN temp=S`) runs, seconds
# the scheduler's longest wait inside one step: a longer one returns to the app's loop, so
# commands are served and Ctrl-C is seen (the host's fast path models the same loop)
SLEEP_MAX_US = 20000

NAME_MAX = 16  # front-end names and calibration keys: short lower-case words
