"""The aiohttp edge: app factory, handlers (a few lines each), ops endpoints."""
