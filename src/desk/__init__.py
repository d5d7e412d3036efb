"""desk: a keyboard-only terminal console for a customer-service call center."""

__version__ = "0.1.0"
