"""What every part of a running Herald shares, built once by the composition root
(bot/app.py) and handed to the background work (bot/workers.py)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.deploy.context import Operations
from bot.integrations.page_delivery import PageDelivery
from bot.slack.delivery import SlackDelivery
from bot.slack.home_refresh import HomeViewers
from bot.slack.responses import Responder
from bot.slack.tasks import BackgroundTasks
from bot.store.database import Database
from bot.store.ledgers import LedgerFactory


@dataclass(frozen=True)
class Core:
    """What every part of a running Herald shares."""

    database: Database
    client: AsyncWebClient
    http: aiohttp.ClientSession
    delivery: SlackDelivery
    pages: PageDelivery
    ledgers: LedgerFactory
    ops: Operations
    tasks: BackgroundTasks
    responder: Responder  # answers slash commands and buttons over `http`
    homes: HomeViewers  # the Home tabs people opened, kept current


class Role(enum.Enum):
    """What one Herald process does (bot/serving)."""

    ALL = "all"  # `herald serve`: serves HTTP and does the work after each ack
    FRONT = "front"  # `herald serve --workers N`: serves HTTP, verifies, records, acks
    WORKER = "worker"  # a worker of the above: commands from the inbox, outbox, schedules
