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


def test_production_sets_secure_cookies(tmp_path):
    config = load_config(
        {"APP_ENV": "production", "SECRET_KEY": "k" * 40, "MACHINE_PROVISIONING_SECRET": "p"},
        instance_path=tmp_path,
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
