import re

import pytest

from app.config import ConfigError, load_config, normalise_database_url


def test_defaults_give_a_runnable_embedded_app(tmp_path):
    config = load_config({}, instance_path=tmp_path)
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'chamados.sqlite3'}"
    assert config["REDIS_URL"] is None
    assert config["PRESENCE_FLUSH_SECONDS"] == 10 and config["DATABASE_PING_IDLE_SECONDS"] == 10
    assert config["MACHINE_TOKEN_TTL_MS"] == 2_592_000_000
    assert config["SESSION_COOKIE_SECURE"] is False


def test_development_secret_is_generated_once_and_kept(tmp_path):
    first = load_config({}, instance_path=tmp_path)["SECRET_KEY"]
    second = load_config({}, instance_path=tmp_path)["SECRET_KEY"]
    assert first == second and len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_production_requires_a_secret_key(tmp_path):
    with pytest.raises(ConfigError, match="SECRET_KEY is required"):
        load_config({"APP_ENV": "production"}, instance_path=tmp_path)


PRODUCTION = {"APP_ENV": "production", "SECRET_KEY": "k" * 40, "MACHINE_PROVISIONING_SECRET": "p"}


def test_production_refuses_to_start_without_a_public_url_and_says_why(tmp_path):
    with pytest.raises(
        ConfigError, match=re.escape("PUBLIC_BASE_URL (or the seed's NEXT_PUBLIC_APP_URL) is required")
    ):
        load_config(PRODUCTION, instance_path=tmp_path)


def test_public_base_url_falls_back_to_the_seeds_next_public_app_url(tmp_path):
    seed_env = {**PRODUCTION, "NEXT_PUBLIC_APP_URL": "https://tickets.example.com.br/"}
    assert (
        load_config(seed_env, instance_path=tmp_path)["PUBLIC_BASE_URL"] == "https://tickets.example.com.br"
    )
    both = {**seed_env, "PUBLIC_BASE_URL": "https://chamados.example.com"}
    assert load_config(both, instance_path=tmp_path)["PUBLIC_BASE_URL"] == "https://chamados.example.com"
    assert load_config({}, instance_path=tmp_path)["PUBLIC_BASE_URL"] == "http://127.0.0.1:5000"
    with pytest.raises(ConfigError, match="NEXT_PUBLIC_APP_URL must be an http"):
        load_config({"NEXT_PUBLIC_APP_URL": "tickets.example.com"}, instance_path=tmp_path)


def test_reports_cron_secret_is_the_internal_tokens_alternative(tmp_path):
    assert load_config({"REPORTS_CRON_SECRET": "r"}, instance_path=tmp_path)["INTERNAL_HEALTH_TOKEN"] == "r"
    both = {"REPORTS_CRON_SECRET": "r", "INTERNAL_HEALTH_TOKEN": "i"}
    assert load_config(both, instance_path=tmp_path)["INTERNAL_HEALTH_TOKEN"] == "i"


def test_production_sets_secure_cookies(tmp_path):
    config = load_config(
        {**PRODUCTION, "PUBLIC_BASE_URL": "https://chamados.example.com"}, instance_path=tmp_path
    )
    assert config["SESSION_COOKIE_SECURE"] and config["REMEMBER_COOKIE_SECURE"]
    assert config["SESSION_COOKIE_HTTPONLY"] and config["SESSION_COOKIE_SAMESITE"] == "Lax"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MACHINE_TOKEN_TTL_MS": "soon"}, "MACHINE_TOKEN_TTL_MS must be a whole number"),
        ({"MACHINE_TOKEN_TTL_MS": "5"}, "MACHINE_TOKEN_TTL_MS must be at least"),
        ({"APP_ENV": "staging"}, "APP_ENV must be one of"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL must be"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL must start with"),
        ({"RATELIMIT_ENABLED": "maybe"}, "RATELIMIT_ENABLED must be true or false"),
    ],
)
def test_bad_values_name_the_variable(tmp_path, env, message):
    with pytest.raises(ConfigError, match=message):
        load_config(env, instance_path=tmp_path)


def test_postgres_urls_use_psycopg3():
    assert normalise_database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("sqlite:///x.db") == "sqlite:///x.db"


def test_development_provisioning_secret_is_generated_once(tmp_path):
    first = load_config({}, instance_path=tmp_path)["MACHINE_PROVISIONING_SECRET"]
    assert first and first == load_config({}, instance_path=tmp_path)["MACHINE_PROVISIONING_SECRET"]
    assert (
        load_config({"APP_ENV": "testing"}, instance_path=tmp_path / "t")["MACHINE_PROVISIONING_SECRET"]
        is None
    )
