"""board-relay: follow a web message board with no feed, as an Atom feed and a Telegram channel."""

__version__ = "0.1.0"
PROJECT_URL = "https://github.com/board-relay/board-relay"
DEFAULT_USER_AGENT = f"board-relay/{__version__} (+{PROJECT_URL})"
