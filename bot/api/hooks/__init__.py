"""Webhooks: Argo CD and Argo Rollouts notifications, Alertmanager.

`routes` holds the thin handlers; `argo` and `alertmanager` the payload schemas they parse
into the domain's signals (`bot.domain.signals`).
"""

from bot.api.hooks.routes import ALERT_PAGER, TOKEN_HEADER, AlertPager, add_routes

__all__ = ["ALERT_PAGER", "TOKEN_HEADER", "AlertPager", "add_routes"]
