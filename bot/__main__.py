"""`python -m bot` runs the schoolgate command."""

from bot.cli import main

main()
