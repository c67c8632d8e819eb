"""Leuchtturm catalogue."""
