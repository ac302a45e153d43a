import logging
import sys

logger = logging.getLogger()


def handler(event, context):
    logger.debug("debug line")
    logger.info("info line %s", 1)
    logger.warning("warning line")
    logger.error("error line")
    logger.critical("critical line")
    logging.getLogger("app.child").warning({"structured": True, "n": 1})
    print("printed line")
    sys.stderr.write("stderr line\n")
    context.log("context.log line\n")
    try:
        raise ValueError("logged failure")
    except ValueError:
        logger.exception("caught it")
    return "logged"
