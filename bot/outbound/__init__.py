"""Sending: dispatch, render, cadence hold, translation, the worker, status, consent, reach."""
