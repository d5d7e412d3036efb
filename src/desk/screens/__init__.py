"""The Textual screens: each owns its mode, calls services only from workers and reports
back by message."""
