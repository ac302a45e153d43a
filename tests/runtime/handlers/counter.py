count = 0


def handler(event, context):
    global count  # noqa: PLW0603 (the point: module state kept between invocations)
    count += 1
    return {"count": count}
