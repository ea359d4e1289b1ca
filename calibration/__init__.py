"""Calibration: fitting the model to the seeds' figures (its own issue builds on this)."""
