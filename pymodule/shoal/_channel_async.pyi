# Stubs of shoal/_channel_async.py: its public face, shoal.aselect.
from typing import Any

from shoal._shoal import Channel

async def aselect(*channels: Channel, timeout: float | None = None) -> tuple[Channel, Any]: ...
