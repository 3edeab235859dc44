"""The service's broker accounts: a new site's gateway gets its credentials at registration
(returned once, stored hashed), and the broker's password file and ACL follow the registry.

The controller's account and the accounts of sites registered without the API (the
district file at first start) come from ``vpp gateways provision --db``; the service never
issues those, since nobody would see their passwords.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from datetime import datetime
from pathlib import Path

from vpp.device_adapters.mqtt.acl import CONTROLLER_USERNAME
from vpp.device_adapters.mqtt.broker_files import IssuedCredentials, write_broker_files
from vpp.store import Store

logger = logging.getLogger(__name__)


class BrokerAccounts:
    """Issues gateway accounts and rewrites the broker files in ``folder`` (None: none)."""

    def __init__(self, store: Store, folder: Path | None) -> None:
        self.store = store
        self.folder = folder
        self._lock = asyncio.Lock()
        self._told = False  # whether the missing controller account was logged

    async def sync(self, now: datetime) -> None:
        """Drop accounts of sites no longer registered and rewrite the broker files."""
        await self.issue((), now)

    async def issue(self, site_ids: Collection[str], now: datetime) -> list[IssuedCredentials]:
        """New accounts for those of ``site_ids`` that have none; their passwords in clear."""
        async with self._lock:
            registered = [s.site_id for e in await self.store.enterprises.all() for s in e.sites]
            users, issued = await self.store.gateway_credentials.provision(
                registered, now, issue_to=set(site_ids)
            )
            if self.folder is not None:
                write_broker_files(self.folder, users)
                if not self._told and all(u.username != CONTROLLER_USERNAME for u in users):
                    self._told = True
                    logger.error(
                        "no broker account for the controller: run `vpp gateways provision "
                        "--db ... --out %s` once",
                        self.folder,
                    )
        for credentials in issued:
            logger.info("issued broker account %s", credentials.username)
        return issued
