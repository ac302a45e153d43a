"""`python -m lambda_rie`: the same command line as the `lambda-rie` console script."""

from lambda_rie.cli import main

main()
