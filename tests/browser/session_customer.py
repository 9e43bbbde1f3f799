"""The customer's side of a remote session in a browser, on the /session pages: a context of
its own (the customer is not the agent), the reference and the code typed and the red arrow
clicked, the terms read and agreed, each proposed change answered, the end seen.

What the steps rely on (console/templates/customer/session_*.html): ``#reference``, ``#code``
and the red arrow ``#code-submit``; ``#agree``; one ``li.session-step[data-decision]`` per
change with ``button[value=confirmed|declined]``; ``#session-status[data-paused]`` with
``#poll-pause``/``#poll-resume``; ``#end-session`` then ``#end-yes``; the ended page's
``.ended-by[data-ended-by]`` and ``ol.close-steps``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: what a customer waits for the poll (every 2 s) to bring, at most
POLLED_MS = 20_000


@dataclass
class CustomerSession:
    page: Any
    #: script errors and anything the Content-Security-Policy refused (``close`` checks it)
    errors: list[str] = field(default_factory=list)

    @classmethod
    def opens(cls, browser: Any, base: str, lang: str | None = None) -> CustomerSession:
        context = browser.new_context(base_url=base, locale="en-US")
        context.set_default_timeout(15_000)
        page = context.new_page()
        opened = cls(page)
        page.on("pageerror", lambda e: opened.errors.append(str(e)))
        page.on("console", lambda m: opened.errors.append(m.text) if m.type == "error" and not
                m.text.startswith("Failed to load resource") else None)  # a 403 page, a favicon
        page.goto("/session" + (f"?lang={lang}" if lang else ""))
        return opened

    def enter(self, reference: str, code: str) -> Any:
        """Type the reference and the code and click the red arrow; the answer's response."""
        self.page.fill("#reference", reference)
        self.page.fill("#code", code)
        with self.page.expect_navigation() as answer:
            self.page.click("#code-submit")
        return answer.value

    def agree(self) -> None:
        with self.page.expect_navigation():
            self.page.click("#agree")
        self.page.wait_for_url("**/session/live")

    def answer(self, description: str, decision: str) -> None:
        """Answer one change once the poll has shown it; the answer replaces its buttons."""
        step = f"li.session-step:has-text('{description}')"
        self.page.wait_for_selector(f"{step}[data-decision=pending]", timeout=POLLED_MS)
        self.page.click(f"{step} button[value={decision}]")
        self.page.wait_for_selector(f"{step}[data-decision={decision}]")

    def sees_the_end(self, ended_by: str) -> str:
        """The ended page (the poll leads there); its text."""
        self.page.wait_for_url("**/session/ended", timeout=POLLED_MS)
        self.page.wait_for_selector(f".ended-by[data-ended-by={ended_by}]")
        assert self.page.locator("ol.close-steps li").count() == 4
        return str(self.page.inner_text("main"))

    def close(self) -> None:
        self.page.context.close()
        assert self.errors == []
