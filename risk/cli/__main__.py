"""`python -m risk.cli`: the same as the `risk` console command."""

from risk.cli import main

main()
