"""The web app: provider webhooks and (later) staff pages."""
