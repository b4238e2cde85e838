"""MCP gateway benchmark: an allowed tool call through Redline against the same call direct.

    .venv/bin/python bench/mcp_gateway.py [--calls 300] [--classifier rules|model]

(Not bench/mcp.py: run as a script, that name would shadow the `mcp` SDK it imports.)

The tool server (examples/mcp_tool_server.py) and Redline each run in their own process;
one SDK client calls `get_weather` on both, interleaved, so noise lands on both sides alike.
Prints p50/p99 direct, through Redline, and what Redline adds.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from pathlib import Path

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.bench import Servers, ms_percentile, processes_up, requester_key
from tests.support.loopback import free_port

from redline.approvals.token import PUBLIC_KEY_FILE, load_or_create_signing_key

STARTUP_S = 90  # the tool server and Redline start side by side
ROOT = Path(__file__).resolve().parents[1]
CONFIG = """
db = "{db}"
classifier = "{classifier}"
port = {port}
rate_limit_per_minute = 0
approval_keys_dir = "{keys}"
[deployments.default]
packs = ["provider-redlines"]
[mcp_servers.tools]
url = "http://127.0.0.1:{tools}/mcp"
"""


@contextmanager
def servers(tmp: Path, classifier: str) -> Iterator[Servers]:
    """The tool server and Redline, each its own process; the backend is the tool server."""
    tools_port, rl_port = free_port(), free_port()
    load_or_create_signing_key(tmp / "keys")
    cfg = tmp / "redline.toml"
    cfg.write_text(CONFIG.format(db=tmp / "redline.db", classifier=classifier, port=rl_port,
                                 keys=tmp / "keys", tools=tools_port))  # fmt: skip
    env = {**os.environ, "REDLINE_LOCAL_KEYS": str(tmp / "local-keys.json"),
           "REDLINE_KEYS_DIR": str(tmp / "keys"),
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}  # fmt: skip
    tool_args = ["examples/mcp_tool_server.py", "--http", str(tools_port), "--spent",
                 str(tmp / "spent"), "--key", str(tmp / "keys" / PUBLIC_KEY_FILE)]  # fmt: skip
    serve = [sys.executable, "-m", "redline.cli.main", "serve", "--config", str(cfg)]
    quiet = {"cwd": ROOT, "env": env, "stderr": subprocess.DEVNULL}
    procs = [
        subprocess.Popen([sys.executable, *tool_args], **quiet),  # type: ignore[call-overload]
        subprocess.Popen(serve, **quiet),  # type: ignore[call-overload]
    ]
    ready = [f"http://127.0.0.1:{rl_port}/healthz", f"http://127.0.0.1:{tools_port}/mcp"]
    with processes_up(procs, ready, STARTUP_S):
        key = requester_key(tmp / "local-keys.json")
        yield Servers(f"http://127.0.0.1:{rl_port}/mcp", f"http://127.0.0.1:{tools_port}/mcp", key)


@asynccontextmanager
async def session(url: str, key: str | None) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(httpx2.AsyncClient(headers=headers, timeout=30))
        client = Client(streamable_http_client(url, http_client=http), cache=None)
        yield await stack.enter_async_context(client)


async def timed(call: Callable[[], Awaitable[object]]) -> float:
    t = time.perf_counter()
    await call()
    return time.perf_counter() - t


async def measure(via_url: str, direct_url: str, key: str, n: int) -> tuple[list[float], ...]:
    async with session(via_url, key) as via, session(direct_url, None) as direct:
        for _ in range(60):  # Redline connects to the tool server in the background
            if any(t.name == "get_weather" for t in (await via.list_tools()).tools):
                break
            await anyio.sleep(0.5)

        async def through() -> None:
            result = await via.call_tool("get_weather", {"city": "Oslo"})
            assert not result.is_error, result

        async def around() -> None:
            await direct.call_tool("get_weather", {"city": "Oslo"})

        for _ in range(20):  # warm up connections and caches
            await through()
            await around()
        lat_direct: list[float] = []
        lat_via: list[float] = []
        for _ in range(n):
            lat_direct.append(await timed(around))
            lat_via.append(await timed(through))
        return lat_direct, lat_via


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--classifier", default="rules")
    ap.add_argument("--db-dir", default=None, help="where the ledger lives (default: a temp dir)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.db_dir) as tmp, \
            servers(Path(tmp), args.classifier) as running:  # fmt: skip
        lat_direct, lat_via = anyio.run(
            measure, running.redline, running.backend, running.key, args.calls
        )
    print(f"MCP tools/call get_weather, {args.calls} calls each, classifier {args.classifier}")
    print(f"{'':24}{'p50 ms':>10}{'p99 ms':>10}")
    for name, lat in (("direct", lat_direct), ("through Redline", lat_via)):
        print(f"{name:24}{ms_percentile(lat, 50):10.2f}{ms_percentile(lat, 99):10.2f}")
    added50 = ms_percentile(lat_via, 50) - ms_percentile(lat_direct, 50)
    added99 = ms_percentile(lat_via, 99) - ms_percentile(lat_direct, 99)
    print(f"{'added by Redline':24}{added50:10.2f}{added99:10.2f}")


if __name__ == "__main__":
    main()
