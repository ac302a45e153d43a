import sys


def handler(event, context):
    return {"asyncio_loaded": "asyncio" in sys.modules, "logging_loaded": "logging" in sys.modules}
