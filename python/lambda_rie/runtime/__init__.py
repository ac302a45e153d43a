"""The built-in Python runtime: `python -m lambda_rie.runtime module.function`.

A Lambda Runtime API client with the observable contract of AWS's Python runtime interface
client (awslambdaric). Importing this package imports nothing else, so that a function's
cold start pays only for what it uses.
"""
