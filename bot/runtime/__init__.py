"""Running processes: the Context, background loops, the companion process, the job list."""
