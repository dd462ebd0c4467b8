"""`python -m ferryman.flows.cli`: the same as the `ferryman` command."""

from ferryman.flows.cli.app import main

main()
