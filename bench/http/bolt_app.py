"""Baseline for the slash-command ack: the smallest Slack Bolt for Python app that does the same
job (verify the signature, parse the form, acknowledge), served by Bolt's aiohttp adapter.

Usage: bolt_app.py PORT   (signing secret from SLACK_SIGNING_SECRET)

Bolt insists on a bot token or an authorize function, and with a token it calls auth.test on
Slack before the first request; a fixed authorize result keeps it off the network, as a cached
auth.test would in production.
"""
import logging
import os
import sys

from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.authorization import AuthorizeResult

logging.basicConfig(level=logging.WARNING)  # no log line per request


async def authorize(**_):
    return AuthorizeResult(enterprise_id=None, team_id="T0BENCH", bot_token="xoxb-bench", bot_id="B0BENCH", bot_user_id="U0BENCH")


app = AsyncApp(signing_secret=os.environ["SLACK_SIGNING_SECRET"], authorize=authorize)


@app.command("/helpdesk")
async def helpdesk(ack):
    await ack()


async def commands(request: web.Request) -> web.Response:
    # What Bolt's AsyncSlackAppServer does, minus its access log, on helpdesk's path so the same
    # request file fits both.
    return await to_aiohttp_response(await app.async_dispatch(await to_bolt_request(request)))


async def healthz(_: web.Request) -> web.Response:
    return web.Response(text="ok")


if __name__ == "__main__":
    web_app = web.Application()
    web_app.router.add_post("/slack/commands", commands)
    web_app.router.add_get("/healthz", healthz)
    web.run_app(web_app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
