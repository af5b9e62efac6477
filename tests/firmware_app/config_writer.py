# Write configs in a loop until killed (tests/test_firmware_config.py kills it at random moments).
# Config number i is `sample(i)`; the test recomputes it to check what survived a kill.
import sys

from straja_node import config


def sample(i):
    """A valid config that differs with i in content and size (so kills land in every phase)."""
    chans = [5645000 + 1000 * k for k in range(1 + (i * 37) % 300)]
    return {
        "node_id": i,
        "heartbeat_ms": 100 + i % 900,
        "plan": [{"front_end": "rx", "channels": chans, "dwell_us": 1000}],
    }


def main(first):
    i = first
    print("writing")  # the test's kill clock starts here, not at process start (a loaded host)
    while True:
        config.save(sample(i))
        print(i)
        i += 1


if __name__ == "__main__":
    main(int(sys.argv[1]))
