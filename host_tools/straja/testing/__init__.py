"""Test fixtures that are not production code: synthetic node streams for the gateway."""
