"""The MCP gateway: Redline between agents and their MCP tool servers (docs/mcp.md)."""
