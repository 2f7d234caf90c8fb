"""schoolgate: keeps schools and families in touch, in the family's language and channel."""

__version__ = "0.1.0"
