"""The HTTP routes, one module per area; gateway/app.py includes them."""
