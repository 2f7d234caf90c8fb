"""Receiving: store first, identify, keywords, call requests, which child, route, acknowledge."""
