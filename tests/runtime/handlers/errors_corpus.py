import sys


class OrderRejected(Exception):
    """A custom exception class."""


def _validate(order):
    if order.get("qty", 0) <= 0:
        raise OrderRejected(f"quantity must be positive, got {order.get('qty')}")


def custom(event, context):
    _validate(event)
    return "ok"


def empty_message(event, context):
    raise ValueError()


def unicode_message(event, context):
    raise RuntimeError("échec — ☃")


def key_error(event, context):
    return event["missing"]


def exits(event, context):
    sys.exit(3)
