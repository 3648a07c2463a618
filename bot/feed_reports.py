"""Feed poll reports in words, the same for the terminal and for Discord."""

from __future__ import annotations

from datetime import timedelta

from index.web.polling import FeedReport

__all__ = ["describe_feed_report", "format_wait"]


def format_wait(value: timedelta) -> str:
    """ "1 h 30 min", "5 min", "40 s"."""
    minutes = round(value.total_seconds() / 60)
    if minutes >= 60:
        return f"{minutes // 60} h {minutes % 60} min"
    if minutes >= 1:
        return f"{minutes} min"
    return f"{max(round(value.total_seconds()), 1)} s"


def _plural(count: int, noun: str) -> str:
    return noun if count == 1 else noun + "s"


def describe_feed_report(report: FeedReport, *, max_failures: int | None = None) -> str:
    """One feed's part of a poll, in the words of `geobot feeds poll` (raw text: callers
    sending it to Discord neutralize it)."""
    name = report.url + (f" ({report.outlet})" if report.outlet else "")
    if report.error:
        wait = f"; next try in {format_wait(report.retry_in)}" if report.retry_in else ""
        return f"{name}: failed: {report.error}{wait}"
    if report.not_modified:
        return f"{name}: not modified since the last poll"
    line = f"{name}: {report.new} new, {report.unchanged} unchanged, {len(report.failed)} failed"
    # Only what happened: a feed with nothing to retry, give up on or skip says nothing of it.
    extras = [
        (report.retry_later, "waiting to be retried"),
        (report.given_up, "given up after repeated failures"),
        (report.empty, _plural(report.empty, "empty item") + " skipped"),
        (report.left_for_later, "left for the next poll"),
    ]
    line += "".join(f", {count} {what}" for count, what in extras if count)
    lines = [line]
    failed = list(report.failed)
    shown = failed if max_failures is None else failed[:max_failures]
    lines += [f"  failed: {f.source}: {f.reason}" for f in shown]
    if len(shown) < len(failed):
        lines.append(f"  … and {len(failed) - len(shown)} more failed")
    fallbacks = list(report.from_feed_content)
    used = fallbacks if max_failures is None else fallbacks[:max_failures]
    lines += [f"  used the feed's own text: {f.source}: {f.reason}" for f in used]
    if len(used) < len(fallbacks):
        lines.append(f"  … and {len(fallbacks) - len(used)} more from the feed's own text")
    return "\n".join(lines)
