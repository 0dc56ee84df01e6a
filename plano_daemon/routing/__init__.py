"""Intent routing: which route a request belongs to, and which model serves it (SPEC §4)."""
