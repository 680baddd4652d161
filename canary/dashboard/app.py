"""The dashboard's web application (Starlette, served by uvicorn): two pages, their JSON, their live
streams (server-sent events) and the verbs' endpoint.

Blocking cluster calls run in Starlette's thread pool. A stream reads every `refresh` seconds and
sends only what changed. A verb is a POST that must carry the `X-Canary-Dashboard` header: a page of
another site cannot add it without the browser asking first, so it cannot press a button for the
user. `--read-only` answers every verb with 403.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from functools import cache
from typing import Any

from sse_starlette.sse import EventSourceResponse
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from canary.cli import plots
from canary.cli.errors import CLIError
from canary.dashboard import page
from canary.dashboard.source import VERBS, Source, UnknownVerbError

ACTION_HEADER = "X-Canary-Dashboard"


@cache
def _plotly_js() -> bytes:
    return plots.plotly_js().encode()


def _guarded(read: Callable[[], Any]) -> Callable[[], dict[str, Any]]:
    """A read whose CLIError (forbidden, not found, unreachable) becomes the page's error line."""

    def call() -> dict[str, Any]:
        try:
            return {"error": "", **read()}
        except CLIError as error:
            return {"error": str(error)}

    return call


def root_url(root_path: str) -> str:
    """'' for the root, else '/prefix' without a trailing slash."""
    trimmed = root_path.strip("/")
    return f"/{trimmed}" if trimmed else ""


def create_app(source: Source, *, read_only: bool, root_path: str = "", refresh: float = 1.0) -> Starlette:
    """The application; `root_path` (`/prefix` or `prefix`, as Argo's `rollouts`) is where it is
    served, as behind a proxy."""
    root = root_url(root_path)
    scope = "all namespaces" if source.all_namespaces else f"namespace {source.session.namespace}"

    async def stream(request: Request, read: Callable[[], dict[str, Any]]) -> EventSourceResponse:
        async def states() -> AsyncIterator[dict[str, str]]:
            sent = None
            while not await request.is_disconnected():
                state = json.dumps(await run_in_threadpool(read))
                if state != sent:
                    sent = state
                    yield {"data": state}
                await asyncio.sleep(refresh)

        return EventSourceResponse(states(), ping=15)

    async def list_page(_: Request) -> Response:
        return HTMLResponse(page.list_page(root, scope, read_only))

    async def rollout_page(request: Request) -> Response:
        namespace, name = request.path_params["namespace"], request.path_params["name"]
        return HTMLResponse(page.rollout_page(root, namespace, name, list(VERBS), read_only))

    def list_state() -> dict[str, Any]:
        return {"rollouts": source.rollouts()}

    def rollout_reader(request: Request) -> Callable[[], dict[str, Any]]:
        namespace, name = request.path_params["namespace"], request.path_params["name"]
        return _guarded(lambda: source.rollout(namespace, name))

    async def list_json(_: Request) -> Response:
        return JSONResponse(await run_in_threadpool(_guarded(list_state)))

    async def rollout_json(request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(rollout_reader(request)))

    async def list_stream(request: Request) -> Response:
        return await stream(request, _guarded(list_state))

    async def rollout_stream(request: Request) -> Response:
        return await stream(request, rollout_reader(request))

    async def act(request: Request) -> Response:
        if read_only:
            return JSONResponse({"error": "the dashboard is read-only (--read-only)"}, status_code=403)
        if request.headers.get(ACTION_HEADER) != "1":
            return JSONResponse({"error": f"a verb needs the {ACTION_HEADER}: 1 header"}, status_code=403)
        namespace, name, verb = (request.path_params[k] for k in ("namespace", "name", "verb"))
        try:
            said = await run_in_threadpool(source.act, namespace, name, verb)
        except UnknownVerbError as error:
            return JSONResponse({"error": str(error)}, status_code=404)
        except CLIError as error:
            return JSONResponse({"error": str(error)}, status_code=409)
        return JSONResponse({"message": said})

    async def plotly_js(_: Request) -> Response:
        return Response(
            _plotly_js(), media_type="text/javascript", headers={"Cache-Control": "max-age=86400"}
        )

    routes: list[BaseRoute] = [
        Route("/", list_page),
        Route("/rollouts/{namespace}/{name}", rollout_page),
        Route("/api/rollouts", list_json),
        Route("/api/rollouts/{namespace}/{name}", rollout_json),
        Route("/api/stream", list_stream),
        Route("/api/stream/{namespace}/{name}", rollout_stream),
        Route("/api/rollouts/{namespace}/{name}/{verb}", act, methods=["POST"]),
        Route("/assets/plotly.min.js", plotly_js),
    ]
    return Starlette(routes=[Mount(root, routes=routes)] if root else routes)
