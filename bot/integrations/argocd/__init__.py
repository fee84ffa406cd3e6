"""Argo CD (and the Argo Rollouts it manages) over Argo CD's REST API: Herald's `DeployTool`.

A thin async client: a handful of ApplicationService calls (``client``), answers turned into
the plain types of ``bot.domain.deploy.tool`` (``parse``) and every failure into a
``DeployToolError`` whose message a user can act on (``errors``).
"""

from __future__ import annotations

from bot.integrations.argocd.client import ArgoCDClient
from bot.integrations.argocd.parse import parse_app, parse_rollout

__all__ = ["ArgoCDClient", "parse_app", "parse_rollout"]
