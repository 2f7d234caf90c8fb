"""What a webhook does once its message is stored: answer, and leave routing to the loop.

In the companion set-up (`schoolgate serve`) the background process's routing loop finds
the stored row by itself, so the webhook only answers. When the background work runs in
this process (`--one-process`, tests), the message is handed to this process's router
after the response has gone, so routing never adds to the provider's wait; if the process
dies first, the loop finishes the row 'received' (bot.inbound.routing).
"""

from __future__ import annotations

from fastapi import Request, Response
from starlette.applications import Starlette
from starlette.background import BackgroundTask

from bot.inbound.routing import Router
from bot.runtime.context import Context


def route_after_response(request: Request, response: Response, inbound_id: int,
                         channel: str, raw: str = "") -> Response:
    """`response`, with the routing of `inbound_id` after it when this process routes."""
    if getattr(request.app.state, "route_after_response", True):
        response.background = BackgroundTask(process_after_response, request.app,
                                             inbound_id, channel, raw)
    return response


async def process_after_response(app: Starlette, inbound_id: int, channel: str = "sms",
                                 raw: str = "") -> None:
    """Route and acknowledge one stored inbound message, after the response has gone."""
    router = getattr(app.state, "inbound_router", None)
    if router is None:  # the app alone (tests): a router of its own, made on first use
        ctx: Context = app.state.ctx
        router = app.state.inbound_router = Router(ctx.factory, ctx.channels,
                                                   route_new=False)
    await router.route(inbound_id, channel, raw)
