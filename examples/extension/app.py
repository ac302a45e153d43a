"""A function to try external extensions and the Telemetry API with."""


def handler(event, context):
    print(f"processing {context.aws_request_id}")
    return {"ok": True}
