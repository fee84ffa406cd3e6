"""Scheduled reports Herald posts: the weekly release report with its trend chart."""
