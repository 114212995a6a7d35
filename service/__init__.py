"""pagemill front door (aiohttp) and the infrastructure it shares with workers."""
