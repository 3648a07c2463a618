"""What the bot answers with: the answer service and the bot's own records."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.answers.service import AnswerService
from bot.answers.source_policy import SourcePolicy
from bot.state import BotState
from index import KnowledgeBase

__all__ = ["Backend"]


@dataclass
class Backend:
    """What the bot answers with: the answer service over a knowledge base, and the bot's
    own records. Built once, in `setup_hook`, by the factory the client is given."""

    service: AnswerService
    state: BotState
    # Services with a server's own choices (`service_for`), made once each.
    _variants: dict[tuple[bool, SourcePolicy], AnswerService] = field(
        default_factory=dict, repr=False
    )

    @property
    def kb(self) -> KnowledgeBase:
        return self.service.kb

    def service_for(self, *, written: bool, sources: SourcePolicy) -> AnswerService:
        """The answer service for a server's settings: written answers on or off (on
        only does anything with a model configured) and the sources it prefers or leaves
        out. They share the knowledge base and the model's writer."""
        writer = self.service.writer if written else None
        if writer is self.service.writer and sources == self.service.sources:
            return self.service
        key = (writer is not None, sources)
        variant = self._variants.get(key)
        if variant is None:
            variant = AnswerService(self.kb, self.service.config, writer=writer, sources=sources)
            self._variants[key] = variant
        return variant

    def close(self) -> None:
        self.state.close()
        self.service.kb.close()
        if self.service.writer is not None:
            self.service.writer.close()
