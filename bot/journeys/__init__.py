"""What staff send: good news, concerns, meetings (invitation, prep pack, calendar, reminder,
replies) and check-ins. Each kind registers its frame, free-text parts, attachments and
reply reading with the core's registries when its module is imported; importing this
package imports them all (the runtime does, so every process knows every kind)."""

from bot.journeys import announcements, check_ins, concerns, good_news
from bot.journeys.meetings import frames, invitation, reminders, replies

__all__ = ["announcements", "check_ins", "concerns", "frames", "good_news", "invitation",
           "reminders", "replies"]
