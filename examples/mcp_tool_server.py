"""An MCP tool server whose use-of-force tool acts only with Redline's action token.

Written with the `mcp` SDK's MCPServer; `redline.effector` refuses a call of
`engage_target` unless it carries a valid, unspent token for exactly those arguments,
checked offline against Redline's public key. Put it behind Redline (docs/mcp.md):

    # over stdio, started by Redline (in redline.toml)
    [mcp_servers.fires]
    command = "python"
    args = ["examples/mcp_tool_server.py", "--key", "var/keys/approval-signing.pub.pem"]

    # or over Streamable HTTP
    python examples/mcp_tool_server.py --key var/keys/approval-signing.pub.pem --http 9000
    [mcp_servers.fires]
    url = "http://127.0.0.1:9000/mcp"

Only Redline should be able to reach it: a call that bypasses Redline finds no token.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from mcp.server.mcpserver import MCPServer

from redline.effector import Effector

server: MCPServer = MCPServer("fires", instructions="Weather and fire missions.")


@server.tool()
def get_weather(city: str) -> str:
    """The current weather for a city."""
    return f"Weather in {city}: 4 degrees, light rain."


@server.tool()
def engage_target(target_id: str, weapon: str) -> str:
    """Engage a target with the named weapon (needs a commander's approval in Redline)."""
    logging.getLogger("fires").warning("engaging %s with %s", target_id, weapon)
    return f"Engagement of {target_id} with {weapon} ordered."


def main() -> None:
    parser = argparse.ArgumentParser(description="An MCP tool server guarded by Redline.")
    parser.add_argument("--key", type=Path, required=True, help="Redline's public key (PEM)")
    parser.add_argument("--spent", type=Path, default=Path("var/spent-tokens"),
                        help="where spent approval ids are kept (one a line)")  # fmt: skip
    parser.add_argument("--http", type=int, metavar="PORT", help="serve Streamable HTTP")
    args = parser.parse_args()
    args.spent.parent.mkdir(parents=True, exist_ok=True)
    Effector(args.key, spent=args.spent).protect(server, "engage_target")
    if args.http:
        server.run("streamable-http", host="127.0.0.1", port=args.http)
    else:
        server.run("stdio")


if __name__ == "__main__":
    main()
