"""The region's dashboard: straja.web over straja hq's store (docs/hq.md, docs/dashboard.md).

The dashboard reads its history and writes acknowledgements through this, as it does through
`straja.web.app.GatewayHistory` on a gateway; node and alert ids are region-wide
(`site:gateway:id`), so the page shows every site's nodes and alerts side by side.
"""
from __future__ import annotations

import time

from starlette.exceptions import HTTPException

from . import store as hq_store

SITE, GATEWAY = "hq", "hq"  # acknowledgements are the command post's own events


class HqHistory:
    def __init__(self, db_path):
        self.reader = hq_store.connect(db_path)
        self.writer = hq_store.HqStore(db_path)

    def query(self, *, kinds, node, alert_id, since_ns, until_ns, limit) -> list[dict]:
        return hq_store.query(self.reader, kinds=kinds, node=node, alert=alert_id,
                              since_ns=since_ns, until_ns=until_ns, limit=limit)

    def acknowledge(self, event, known: bool = False) -> list[dict]:
        """Stores the acknowledgement. Known emitters are a site's own (its gateway's store):
        `known` is refused here, to be done at the site."""
        if known:
            raise HTTPException(400, "known emitters are learnt at the site's gateway "
                                "(straja known add ALERT there)")
        stored = {"kind": event.kind, "t_ns": event.t_ns, "alert_id": event.alert_id,
                  "by": event.by, "site": SITE, "gateway": GATEWAY}
        self.writer.add(SITE, GATEWAY, stored, time.time_ns())
        return [stored]

    def close(self) -> None:
        self.reader.close()
        self.writer.close()
