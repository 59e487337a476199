"""`python -m ui`: serve the chat UI with settings from the environment."""

from __future__ import annotations

import sys

from rag.errors import NewsdeskError
from rag.settings import load_settings


def main() -> int:
    """Serve the chat UI; a `NewsdeskError` becomes one line on stderr."""
    from ui.app import launch

    try:
        launch(load_settings())
    except NewsdeskError as error:
        print(f"newsdesk: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
