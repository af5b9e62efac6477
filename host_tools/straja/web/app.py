"""The dashboard's ASGI application (Starlette): the page, its JSON API and the live websocket.

Routes (docs/dashboard.md): `/` the page and `/static/` its files (vendored front-end libraries
included: nothing is loaded from the internet); `/map-image` the optional local map image;
`/tiles/{z}/{x}/{y}.png` the optional local map tiles (straja hq's Region view);
`GET /api/state` what the page starts from; `GET /api/events` the stored event history with
filters; `POST /api/alerts/{id}/ack` acknowledges an alert (operators only; `?known=1` also marks its
emitter as known, docs/gateway.md "Known emitters"); `/ws` live messages.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from ..gateway import store as event_store
from ..gateway.known import added_from_alert
from .auth import Authenticator, User
from .hub import Hub

STATIC = Path(__file__).parent / "static"
HISTORY_LIMIT = 500  # events one history query returns at most (the newest)
REALM = 'Basic realm="straja", charset="UTF-8"'


def _int_param(request: Request, name: str) -> int | None:
    return int_or_400(name, request.query_params.get(name))


def int_or_400(name: str, text: str | None) -> int | None:
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise HTTPException(400, f"{name} must be an integer, not {text!r}") from None


class GatewayHistory:
    """The event history of one gateway: its SQLite event store, read with a connection of its
    own (WAL lets it read while the gateway writes); acknowledgements are written to it, and so
    reach the gateway's MQTT outbox too. straja.hq has another (its store of every site)."""

    def __init__(self, db_path: str, topics=None):
        self.reader = event_store.connect(db_path)
        self.writer = event_store.Store(db_path, topics)

    def query(self, *, kinds, node, alert_id, since_ns, until_ns, limit) -> list[dict]:
        """Events matching the filters (node: the node id as text), oldest first."""
        return event_store.query_events(
            self.reader, kinds=kinds, node_id=int_or_400("node", node), alert_id=alert_id,
            since_ns=since_ns, until_ns=until_ns, limit=limit)

    def acknowledge(self, event, known: bool = False) -> list[dict]:
        """Stores the acknowledgement (known: and the alert's emitter as a known one, which the
        gateway then clears and raises no other alert for); returns them as stored (JSON)."""
        events = [event]
        alert = known and event_store.latest_alert(self.reader, event.alert_id)
        if alert:
            events.append(added_from_alert(alert, event.t_ns, event.by))
        return [s.json() for s in self.writer.write(events)]

    def close(self) -> None:
        self.reader.close()
        self.writer.close()


async def _until_closed(websocket: WebSocket) -> None:
    """Read (and drop: the page sends nothing the server needs) until the socket closes."""
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass


def tile_zooms(folder: Path | None) -> list[int]:
    """The zoom levels of a folder of map tiles laid out {z}/{x}/{y}.png (the usual layout of
    offline tile exports)."""
    if folder is None:
        return []
    return sorted(int(d.name) for d in folder.iterdir() if d.is_dir() and d.name.isdigit())


def create_app(hub: Hub, authenticator: Authenticator, db_path: str | None = None, topics=None,
               history=None, tiles: Path | None = None) -> Starlette:
    """The application over a hub (live state) and an event history: `history`, else the
    gateway's SQLite event store at db_path; tiles: a folder of local map tiles."""
    history = history or GatewayHistory(db_path, topics)
    zooms = tile_zooms(tiles)

    def user_of(request) -> User:
        user = authenticator.user(request.headers.get("authorization"))
        if user is None:
            raise HTTPException(401, "sign in", headers={"WWW-Authenticate": REALM})
        return user

    async def page(request: Request):
        user_of(request)
        return FileResponse(STATIC / "index.html")

    async def state(request: Request):
        user = user_of(request)
        web = hub.cfg
        return JSONResponse({**hub.snapshot(), "user": {"name": user.name, "role": user.role},
                             "tiles": zooms,
                             "map": {"image": bool(web.map_image),
                                     "extent_m": list(web.map_extent_m)}})

    async def map_image(request: Request):
        user_of(request)
        if not hub.cfg.map_image:
            raise HTTPException(404, "no map_image in the config")
        return FileResponse(hub.cfg.map_image)

    async def tile(request: Request):
        """A local map tile; one the folder lacks is No Content (the map draws none there)."""
        user_of(request)
        z, x, y = (request.path_params[k] for k in ("z", "x", "y"))
        path = tiles / str(z) / str(x) / f"{y}.png" if tiles else None
        if path is None or not path.is_file():
            return Response(status_code=204)
        return FileResponse(path, media_type="image/png")

    async def events(request: Request):
        user_of(request)
        q = request.query_params
        limit = _int_param(request, "limit") or HISTORY_LIMIT
        rows = history.query(
            kinds=[k for k in q.getlist("kind") if k], node=q.get("node") or None,
            alert_id=q.get("alert") or None, since_ns=_int_param(request, "since"),
            until_ns=_int_param(request, "until"), limit=min(limit, HISTORY_LIMIT))
        return JSONResponse(rows[::-1])  # newest first, as a history is read

    async def acknowledge(request: Request):
        user = user_of(request)
        if not user.may_acknowledge:
            raise HTTPException(403, f"{user.name} is a {user.role}: only operators acknowledge")
        known = request.query_params.get("known", "") in ("1", "true")
        event = hub.ack_event(request.path_params["alert_id"], user.name, time.time_ns(), known)
        if event is None:
            raise HTTPException(404, "no such alert")
        stored = history.acknowledge(event, known)
        hub.sink_json(stored)
        return JSONResponse(stored[0])

    async def live(websocket: WebSocket):
        if authenticator.user(websocket.headers.get("authorization")) is None:
            await websocket.close(code=1008)  # policy violation: not signed in
            return
        await websocket.accept()
        queue = hub.subscribe()
        # a closed socket (the browser gone, or the server stopping: uvicorn closes it and
        # waits for this handler) shows only to a read: read beside the writes, so the handler
        # ends then, not at the hub's next message (the dashboard stopped only after its 5 s)
        closed = asyncio.ensure_future(_until_closed(websocket))
        try:
            await websocket.send_text(json.dumps(hub.snapshot()))
            while True:
                message = asyncio.ensure_future(queue.get())
                await asyncio.wait((message, closed), return_when=asyncio.FIRST_COMPLETED)
                if closed.done():
                    message.cancel()
                    break
                await websocket.send_text(json.dumps(message.result()))
        except WebSocketDisconnect:
            pass
        finally:
            closed.cancel()
            hub.unsubscribe(queue)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        hub.loop = asyncio.get_running_loop()
        yield
        history.close()

    async def http_error(request: Request, exc: HTTPException):
        """Errors as JSON {"detail"}: what the page shows a person."""
        return JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)

    async def static_files(scope, receive, send):
        user_of(Request(scope))
        await files(scope, receive, send)

    files = StaticFiles(directory=STATIC)
    routes = [Route("/", page), Route("/api/state", state), Route("/api/events", events),
              Route("/api/alerts/{alert_id}/ack", acknowledge, methods=["POST"]),
              Route("/map-image", map_image), Route("/tiles/{z:int}/{x:int}/{y:int}.png", tile),
              WebSocketRoute("/ws", live),
              Mount("/static", app=static_files)]
    return Starlette(routes=routes, lifespan=lifespan,
                     exception_handlers={HTTPException: http_error})
