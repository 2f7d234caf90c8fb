"""Errors the core raises; each says what the caller should do next."""


class SchoolgateError(Exception):
    """Root of every error the core raises on purpose; the CLI prints it as one line."""


class ConfigurationError(SchoolgateError):
    """The settings are wrong: fail fast at start-up and say which setting."""


class NotFoundError(SchoolgateError):
    """A named student, guardian or staff member does not exist."""


class InvalidInputError(SchoolgateError):
    """Input from a person (CLI argument, form, file) is not acceptable."""
