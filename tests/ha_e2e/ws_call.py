"""Home Assistant websocket commands, run by the HA venv's Python (it has aiohttp).

Reads ``{"token": ..., "messages": [{"type": ...}, ...]}`` on stdin, authenticates
on the URL given as the only argument, sends each message with an id, and prints
the list of their ``result`` as JSON; exits 1 naming the message HA refused. Not a
test module and never imported by the project (its venv has no aiohttp).
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import aiohttp


async def run(url: str, token: str, messages: list[dict[str, Any]]) -> list[Any]:
    """Authenticate, send each message, collect each result."""
    results: list[Any] = []
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        hello = await ws.receive_json()
        if hello.get("type") != "auth_required":
            raise SystemExit(f"unexpected hello {hello}")
        await ws.send_json({"type": "auth", "access_token": token})
        auth = await ws.receive_json()
        if auth.get("type") != "auth_ok":
            raise SystemExit(f"auth refused: {auth}")
        for n, msg in enumerate(messages, start=1):
            await ws.send_json({**msg, "id": n})
            while True:
                answer = await ws.receive_json()
                if answer.get("id") == n and answer.get("type") == "result":
                    break
            if not answer.get("success"):
                raise SystemExit(f"{msg} refused: {answer.get('error')}")
            results.append(answer.get("result"))
    return results


def main() -> None:
    """stdin JSON in, stdout JSON out."""
    request = json.load(sys.stdin)
    print(json.dumps(asyncio.run(run(sys.argv[1], request["token"], request["messages"]))))


if __name__ == "__main__":
    main()
