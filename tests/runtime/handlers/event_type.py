def handler(event, context):
    if isinstance(event, bytes):
        return {"type": "bytes", "text": event.decode("utf-8")}
    return {"type": type(event).__name__, "value": event}
