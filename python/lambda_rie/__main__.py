"""`python -m lambda_rie`: the same command line as the native `lambda-rie` command."""

from lambda_rie.cli import main

main()
