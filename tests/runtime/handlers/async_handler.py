import asyncio


async def handler(event, context):
    await asyncio.sleep(0)
    return {"loop": id(asyncio.get_running_loop())}


async def fails(event, context):
    await asyncio.sleep(0)
    raise ValueError("async failure")
