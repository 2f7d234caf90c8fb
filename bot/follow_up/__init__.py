"""After a reply or a meeting: staff notices, escalation, staff tasks, action points, the ladder."""
