"""What each client API is on the wire: error bodies in its dialect, SSE framing."""
