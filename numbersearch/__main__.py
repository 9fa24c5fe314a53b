"""`python -m numbersearch`: the same command line as `numbersearch`."""

from numbersearch.cli import main

main(prog_name="numbersearch")
