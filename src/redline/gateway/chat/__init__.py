"""The OpenAI-compatible chat gateway: POST /v1/chat/completions and GET /v1/models."""
