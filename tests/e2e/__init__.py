"""Browser tests: Playwright on Debian's Chromium, at desktop and phone sizes."""
