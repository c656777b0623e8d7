"""A CallbackContext that knows the process's services (see PTB's contexttypesbot example)."""

from __future__ import annotations

from telegram.ext import Application
from telegram.ext import CallbackContext
from telegram.ext import ExtBot

from bot.services import Services

SERVICES_KEY = "services"


class BotContext(CallbackContext[ExtBot, dict, dict, dict]):
    @property
    def services(self) -> Services:
        return self.application.bot_data[SERVICES_KEY]


def install_services(application: Application, services: Services) -> None:
    application.bot_data[SERVICES_KEY] = services
