def handler(event, context):
    depth = event.get("depth", 50)
    width = event.get("width", 200)
    if event.get("lists"):
        node = []
        for _ in range(depth):
            node = [node]
        return node
    node = {"leaf": [{"i": i, "s": "x" * 10, "f": i / 7} for i in range(width)]}
    for level in range(depth):
        node = {"level": level, "child": node, "tags": ["a", "b", level]}
    return node
