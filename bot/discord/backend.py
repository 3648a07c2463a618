"""What the bot answers with: the answer service and the bot's own records."""

from __future__ import annotations

from dataclasses import dataclass

from bot.answers.service import AnswerService
from bot.state import BotState
from index import KnowledgeBase

__all__ = ["Backend"]


@dataclass
class Backend:
    """What the bot answers with: the answer service over a knowledge base, and the bot's
    own records. Built once, in `setup_hook`, by the factory the client is given."""

    service: AnswerService
    state: BotState

    @property
    def kb(self) -> KnowledgeBase:
        return self.service.kb

    def close(self) -> None:
        self.state.close()
        self.service.kb.close()
        if self.service.writer is not None:
            self.service.writer.close()
