"""Broker accounts of the service's registry: usernames and password hashes, never passwords.

The service's broker files (password file and ACL) are written from these rows; a
password exists in clear only in the response or file that issued it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vpp.device_adapters.mqtt.broker_files import BrokerUser, IssuedCredentials, plan_users
from vpp.store.tables import GatewayCredentialRow


class GatewayCredentials:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def all(self) -> list[GatewayCredentialRow]:
        """Every account, the controller's (no site) first, then by site."""
        async with self._sessions() as session:
            rows = list(await session.scalars(select(GatewayCredentialRow)))
        return sorted(rows, key=lambda r: (r.site_id is not None, r.site_id or "", r.username))

    async def hashes(self) -> dict[str, str]:
        """Password hash by username."""
        return {row.username: row.password_hash for row in await self.all()}

    async def provision(
        self,
        site_ids: Iterable[str],
        now: datetime,
        *,
        rotate: bool = False,
        issue_to: Collection[str] | None = None,
    ) -> tuple[list[BrokerUser], list[IssuedCredentials]]:
        """Accounts for the controller and exactly these sites, in one transaction.

        Known accounts keep their hash unless ``rotate``; missing ones (all, rotating) get
        new passwords, returned in clear once; accounts of sites not listed are deleted.
        ``issue_to``: only these sites may get a new account now (see ``plan_users``).
        """
        async with self._sessions.begin() as session:
            rows = {r.username: r for r in await session.scalars(select(GatewayCredentialRow))}
            users, issued = plan_users(
                site_ids,
                {u: r.password_hash for u, r in rows.items()},
                rotate=rotate,
                issue_to=issue_to,
            )
            wanted = {user.username for user in users}
            gone = [u for u in rows if u not in wanted]
            if gone:
                await session.execute(
                    delete(GatewayCredentialRow).where(GatewayCredentialRow.username.in_(gone))
                )
                await session.flush()
            for user in users:
                row = rows.get(user.username)
                if row is None:
                    session.add(
                        GatewayCredentialRow(
                            username=user.username,
                            site_id=user.site_id,
                            password_hash=user.password_hash,
                            created_at=now,
                        )
                    )
                elif row.password_hash != user.password_hash:
                    row.password_hash, row.created_at = user.password_hash, now
        return users, issued
