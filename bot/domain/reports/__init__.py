"""Scheduled reports: when each falls due, and what a report sent late says. Pure."""
