"""`python -m lambda_rie.runtime HANDLER`: serve the handler through the Lambda Runtime API."""

import sys

from lambda_rie.runtime.bootstrap import main

main(sys.argv)
