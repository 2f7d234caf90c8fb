"""The scheduler: one active service, the cadence policy, and the recurring jobs."""
