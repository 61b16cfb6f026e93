"""Secrets at rest: client ids sealed like tokens, key rotation, the start-up check, and no SQL
parameters in driver logs."""

from __future__ import annotations

import logging

import pytest

from core.logs import setup_logging
from core.store import TenantRow
from core.store.cipher import SecretKeyError

from .conftest import Backend


async def test_client_id_is_encrypted_at_rest(backend: Backend) -> None:
    store = await backend.open(secret_key="k1")
    await store.put_tenant(TenantRow("slack", "T1", "client-abc", "tok", "U1"))
    raw = await backend.scalar("SELECT client_id FROM tenants")
    assert "client-abc" not in raw and raw.startswith("enc1:")
    tenant = await store.get_tenant("slack", "T1")
    assert tenant is not None and tenant.client_id == "client-abc"


async def test_plain_rows_are_sealed_at_start_and_still_read(backend: Backend) -> None:
    plain = await backend.open()
    await plain.put_tenant(TenantRow("slack", "T1", "client-abc", "tok"))
    await plain.put_tenant(TenantRow("slack", "T2", "client-def"))
    keyed = await backend.open(secret_key="k1")
    assert await keyed.seal_secrets() == 2
    assert await keyed.seal_secrets() == 0
    raw = await backend.scalar("SELECT client_id FROM tenants WHERE tenant = 'T1'")
    assert raw.startswith("enc1:")
    tenant = await keyed.get_tenant("slack", "T1")
    assert tenant is not None and (tenant.client_id, tenant.token) == ("client-abc", "tok")
    bare = await keyed.get_tenant("slack", "T2")
    assert bare is not None and bare.token is None


async def test_key_rotation_first_encrypts_every_one_decrypts(backend: Backend) -> None:
    old = await backend.open(secret_key="old")
    await old.put_tenant(TenantRow("slack", "T1", "client-abc", "tok"))
    rotated = await backend.open(secret_key="new, old")
    tenant = await rotated.get_tenant("slack", "T1")
    assert tenant is not None and tenant.token == "tok"
    assert await rotated.seal_secrets() == 1  # rewritten under "new"
    only_new = await backend.open(secret_key="new")
    assert await only_new.seal_secrets() == 0
    tenant = await only_new.get_tenant("slack", "T1")
    assert tenant is not None and tenant.client_id == "client-abc"


async def test_a_wrong_or_missing_key_is_found_at_start(backend: Backend) -> None:
    keyed = await backend.open(secret_key="right")
    await keyed.put_tenant(TenantRow("slack", "T1", "client-abc", "tok"))
    with pytest.raises(SecretKeyError, match="JUPITER_SECRET_KEY"):
        await (await backend.open(secret_key="wrong")).seal_secrets()
    with pytest.raises(SecretKeyError, match="JUPITER_SECRET_KEY"):
        await (await backend.open()).seal_secrets()


def test_driver_loggers_never_print_parameters_at_debug() -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        setup_logging("DEBUG")
        assert not logging.getLogger("aiosqlite").isEnabledFor(logging.DEBUG)
        assert logging.getLogger("jupiter").isEnabledFor(logging.DEBUG)
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])


async def test_workspace_tokens_and_installations_are_sealed_and_rotated(
    backend: Backend,
) -> None:
    old = await backend.open(secret_key="old")
    await old.put_fixed_token("slack", "T1", "nemo-workspace-token", "client-abc")
    await old.put_install("slack", "T1", '{"bot_token": "xoxb-not-real"}')
    assert "nemo-workspace" not in await backend.scalar("SELECT fixed_token FROM tenants")
    assert "xoxb" not in await backend.scalar("SELECT data FROM installations")
    rotated = await backend.open(secret_key="new, old")
    assert await rotated.seal_secrets() == 3  # the client id, the workspace token, the install
    only_new = await backend.open(secret_key="new")
    tenant = await only_new.get_tenant("slack", "T1")
    assert tenant is not None and tenant.fixed_token == "nemo-workspace-token"
    assert await only_new.get_install("slack", "T1") == '{"bot_token": "xoxb-not-real"}'
    assert await only_new.delete_install("slack", "T1") == 1
    assert await only_new.get_install("slack", "T1") is None


async def test_install_states_are_consumed_once_and_expire(backend: Backend) -> None:
    store = await backend.open()
    await store.issue_state("s1", 600)
    await store.issue_state("s2", -1)
    assert await store.consume_state("s1") is True
    assert await store.consume_state("s1") is False  # replayed
    assert await store.consume_state("s2") is False  # expired
    assert await store.consume_state("forged") is False
