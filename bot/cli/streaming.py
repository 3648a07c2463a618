"""A written answer printed as it is written: `geobot ask --llm` and `geobot chat`.

The answer service reports the answer's text each time one more written sentence has
passed its checks (`AnswerService.ask(on_text=...)`); `StreamedPrinter` prints what is new
in it, wrapped as the finished answer would be, and `finish` prints the rest: the last
sentences, the short answer line, the sources and the notes. Nothing else reaches the
terminal before the answer is finished, so nothing unchecked is printed. When the
written answer did not hold up to the end (the server failed mid-reply, the whole answer
failed its final check), `finish` says so and prints the answer given instead, whose
notes say why. `--json` never streams: it prints one object at the end.
"""

from __future__ import annotations

import textwrap

from bot.answers.models import Answer
from bot.cli.rendering import WIDTH, echo, render_answer, render_answer_details

__all__ = ["WITHDRAWN", "StreamedPrinter"]

WITHDRAWN = "(the written answer above did not hold up to the end; the answer is below)"


class StreamedPrinter:
    """Prints an answer's checked text as it grows, then the finished answer."""

    def __init__(self, width: int = WIDTH) -> None:
        self._width = width
        self._column = 0
        self.printed = ""  # the answer text printed so far

    def on_text(self, text: str) -> None:
        """The answer's checked text so far (each call's text extends the last)."""
        if not text.startswith(self.printed):
            return  # never happens: the service reports prefixes of one text
        self._print_words(text[len(self.printed) :])
        self.printed = text

    def _print_words(self, text: str) -> None:
        # Wrapped as textwrap.fill wraps the finished answer: greedily, at spaces.
        for word in text.split():
            if self._column and self._column + 1 + len(word) > self._width:
                echo()
                self._column = 0
            elif self._column:
                echo(" ", nl=False)
                self._column += 1
            echo(word, nl=False)
            self._column += len(word)

    def finish(self, answer: Answer) -> None:
        """Print the rest of `answer` (all of it when nothing was printed yet)."""
        if not self.printed:
            echo(render_answer(answer))
            return
        if answer.method == "llm" and not answer.declined and answer.text.startswith(self.printed):
            self._print_words(answer.text[len(self.printed) :])
            echo()
            from bot.answers.short_answer import headline  # not needed for `--help`

            line = headline(answer)
            short = "\n" + textwrap.fill(line, self._width) + "\n" if line else ""
            echo(short + "\n" + render_answer_details(answer))
            return
        echo("\n\n" + WITHDRAWN + "\n")
        echo(render_answer(answer))
