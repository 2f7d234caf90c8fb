"""What is held: the contact log, the subject-access export, the cadence report."""
