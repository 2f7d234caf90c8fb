"""Meetings: invitation, prep pack, calendar file, reminders, replies (RSVP)."""
