"""Leuchtturm importers."""
