"""The Parameter Store provider against a real moto server, seeded with the production flags."""

from __future__ import annotations

from datetime import datetime

import pytest

from bot.core.ports.errors import ProviderRejected
from bot.core.ports.ssm import ParameterStore
from bot.integrations.ssm import Boto3ParameterStore
from sandbox.aws_seed import SeededProduction, seed_production
from tests.inference.moto_server import moto_client

PREFIX = "/multimodal/prod/"
AUTO_APPLY = f"{PREFIX}AUTO_APPLY_ENABLED"


@pytest.fixture
def production(aws_env: str) -> SeededProduction:
    return seed_production(aws_env)


@pytest.fixture
def store(aws_env: str) -> ParameterStore:
    return Boto3ParameterStore()  # finds moto through AWS_ENDPOINT_URL, as the bot does


async def test_get_reads_the_current_version(store: ParameterStore, production: SeededProduction):
    parameter = await store.get(AUTO_APPLY)

    assert (parameter.name, parameter.value, parameter.version, parameter.type) == (AUTO_APPLY, "true", 2, "String")
    assert isinstance(parameter.last_modified, datetime)


async def test_get_of_a_missing_parameter_is_a_404(store: ParameterStore, production: SeededProduction):
    with pytest.raises(ProviderRejected) as caught:
        await store.get(f"{PREFIX}NO_SUCH_FLAG")

    assert caught.value.status == 404
    assert caught.value.provider == "ssm"
    assert "NO_SUCH_FLAG" in caught.value.message and "ParameterNotFound" in caught.value.message


async def test_get_decrypts_secure_strings(aws_env: str, store: ParameterStore):
    moto_client(aws_env, "ssm").put_parameter(Name=f"{PREFIX}api_key", Value="s3cret", Type="SecureString")

    parameter = await store.get(f"{PREFIX}api_key")

    assert (parameter.value, parameter.type) == ("s3cret", "SecureString")


async def test_get_many_leaves_missing_names_out(store: ParameterStore, production: SeededProduction):
    names = [*production.parameters, f"{PREFIX}NO_SUCH_FLAG", production.parameters[0]]

    found = await store.get_many(names)

    assert set(found) == set(production.parameters)
    assert found[f"{PREFIX}max_batch_size"].value == "32"
    assert found[f"{PREFIX}rate_limit_rpm"].version == 1
    assert await store.get_many([]) == {}


async def test_get_many_reads_more_names_than_one_call_may_ask_for(aws_env: str, store: ParameterStore):
    ssm = moto_client(aws_env, "ssm")
    names = [f"{PREFIX}setting_{i:02d}" for i in range(23)]
    for i, name in enumerate(names):
        ssm.put_parameter(Name=name, Value=str(i), Type="String")
    with pytest.raises(ssm.exceptions.ClientError, match="10"):  # the limit that batching respects
        ssm.get_parameters(Names=names[:11])

    found = await store.get_many(names)

    assert sorted(found) == names
    assert [found[name].value for name in names] == [str(i) for i in range(23)]


async def test_list_under_is_recursive_and_sorted(aws_env: str, store: ParameterStore,
                                                  production: SeededProduction):
    ssm = moto_client(aws_env, "ssm")
    ssm.put_parameter(Name=f"{PREFIX}limits/max_tokens", Value="4096", Type="String")
    ssm.put_parameter(Name="/multimodal/staging/AUTO_APPLY_ENABLED", Value="true", Type="String")

    listed = await store.list_under("/multimodal/prod")

    assert [p.name for p in listed] == sorted([*production.parameters, f"{PREFIX}limits/max_tokens"])
    assert {p.name: p.value for p in listed}[AUTO_APPLY] == "true"
    assert await store.list_under("/nothing/here") == []


async def test_list_under_reads_every_page(aws_env: str, store: ParameterStore):
    ssm = moto_client(aws_env, "ssm")
    names = [f"/big/p{i:02d}" for i in range(25)]  # GetParametersByPath pages at 10
    for name in names:
        ssm.put_parameter(Name=name, Value="v", Type="String")

    assert [p.name for p in await store.list_under("/big")] == names


async def test_put_overwrites_and_returns_the_new_version(store: ParameterStore, production: SeededProduction):
    version = await store.put(AUTO_APPLY, "false")

    assert version == 3
    current = await store.get(AUTO_APPLY)
    assert (current.value, current.version, current.type) == ("false", 3, "String")


async def test_put_creates_a_string_parameter(store: ParameterStore, production: SeededProduction):
    assert await store.put(f"{PREFIX}NEW_FLAG", "on") == 1

    created = await store.get(f"{PREFIX}NEW_FLAG")
    assert (created.value, created.type) == ("on", "String")


async def test_put_keeps_a_secure_string_secure(aws_env: str, store: ParameterStore):
    moto_client(aws_env, "ssm").put_parameter(Name=f"{PREFIX}api_key", Value="old", Type="SecureString")

    assert await store.put(f"{PREFIX}api_key", "new") == 2

    updated = await store.get(f"{PREFIX}api_key")
    assert (updated.value, updated.type) == ("new", "SecureString")


async def test_history_is_oldest_first(store: ParameterStore, production: SeededProduction):
    history = await store.history(AUTO_APPLY)

    assert [v.value for v in history] == ["false", "true"]
    assert [v.version for v in history] == [1, 2]
    assert all(isinstance(v.last_modified, datetime) for v in history)
    assert history[0].last_modified <= history[1].last_modified


async def test_history_includes_a_put(store: ParameterStore, production: SeededProduction):
    await store.put(f"{PREFIX}max_batch_size", "8")

    history = await store.history(f"{PREFIX}max_batch_size")

    assert [(v.version, v.value) for v in history] == [(1, "16"), (2, "32"), (3, "8")]


async def test_history_of_a_missing_parameter_is_a_404(store: ParameterStore, production: SeededProduction):
    with pytest.raises(ProviderRejected) as caught:
        await store.history(f"{PREFIX}NO_SUCH_FLAG")

    assert caught.value.status == 404


async def test_history_reads_every_page(aws_env: str, store: ParameterStore):
    ssm = moto_client(aws_env, "ssm")
    for value in range(55):  # GetParameterHistory pages at 50
        ssm.put_parameter(Name="/busy/flag", Value=str(value), Type="String", Overwrite=True)

    history = await store.history("/busy/flag")

    assert [v.version for v in history] == list(range(1, 56))
    assert history[-1].value == "54"
