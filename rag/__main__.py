"""`python -m rag` runs the `newsdesk` command line."""

from rag.cli import main

main()
