class ConfigMissing(Exception):
    pass


def _load():
    raise ConfigMissing("TABLE_NAME is not set")


_load()


def handler(event, context):
    return "unreachable"
