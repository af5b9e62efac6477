"""`straja hq`: the command post joining many sites through bridged MQTT brokers (docs/hq.md)."""
