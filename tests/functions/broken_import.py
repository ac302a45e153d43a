"""A handler module whose import fails: the runtime reports `Runtime.ImportModuleError`."""

import lambda_rie_test_no_such_module  # noqa: F401


def handler(event: object, _context: object) -> object:
    return event
