"""Widgets: take data through attributes, report through messages, know nothing of services."""
