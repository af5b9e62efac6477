# Load the config as a booting node does and report whether it is one config_writer wrote whole.
import json
import os

from config_writer import sample
from straja_node import config

cfg, error = config.load()
whole = config.canonical(cfg) == config.canonical(config.validate(sample(cfg["node_id"])))
print(json.dumps({"node_id": cfg["node_id"], "whole": whole, "error": error,
                  "files": sorted(os.listdir("."))}))
