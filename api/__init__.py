"""Leuchtturm api."""
