"""The credentials key: services refuse to run with none, a short one or a sample config's placeholder."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from shared.settings import ConfigurationError, Settings, encryption_key_problem


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("", "is not set"),
        ("   ", "is not set"),
        ("too-short-key", "is shorter than 16 characters"),
        ("changeme-changeme-changeme", "is a placeholder, not a key"),
        ("CHANGE_ME_IN_PRODUCTION_PLEASE", "is a placeholder, not a key"),
        ("replace-me-with-a-real-key", "is a placeholder, not a key"),
        ("<your-key-here-32-characters>", "is a placeholder, not a key"),
        ("example-encryption-key-123456", "is a placeholder, not a key"),
        ("xxxxxxxxxxxxxxxxxxxxxxxx", "is a placeholder, not a key"),
        ("aaaaaaaaaaaaaaaaaaaaaaaaaaaa", "is a placeholder, not a key"),
        ("0000000000000000", "is a placeholder, not a key"),
        ("ab12ab12ab12ab12ab12", "is a placeholder, not a key"),
    ],
)
def test_unusable_keys_are_named_without_being_quoted(key: str, problem: str) -> None:
    assert encryption_key_problem(key) == problem
    settings = Settings(credentials_encryption_key=SecretStr(key))
    with pytest.raises(ConfigurationError) as caught:
        settings.require_encryption_key()
    assert str(caught.value).startswith(f"CREDENTIALS_ENCRYPTION_KEY {problem}")
    if key.strip():
        assert key not in str(caught.value)


@pytest.mark.parametrize(
    "key", ["k7Qx2Vd9Lm0Pz4Rt8Wb6Yc1Ne3Hs5Ja", "local-dev-only-credentials-key-0001", "0123456789abcdef"]
)
def test_a_random_enough_key_is_accepted(key: str) -> None:
    assert encryption_key_problem(key) is None
    assert Settings(credentials_encryption_key=SecretStr(key)).require_encryption_key() == key
