"""Signals from outside: Argo CD and Argo Rollouts notifications, release alerts."""
