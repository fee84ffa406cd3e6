"""Webhooks from Argo CD Notifications, Argo Rollouts notifications and Alertmanager."""

from __future__ import annotations

from aiohttp import web


def add_routes(app: web.Application) -> None:
    """Register `/hooks/argocd`, `/hooks/rollouts` and `/hooks/alertmanager`."""
