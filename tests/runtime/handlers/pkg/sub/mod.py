def fn(event, context):
    return {"where": __name__, "event": event}


def boom(event, context):
    return _inner(event)


def _inner(event):
    raise LookupError("nested package failure")
