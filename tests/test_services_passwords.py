from app.services.passwords import hash_password, needs_rehash, verify_password


def test_outside_tests_passwords_get_production_argon2id(app):
    app.config["TESTING"] = False
    try:
        production = hash_password("senha-forte-1")
        assert production.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
        assert verify_password(production, "senha-forte-1") and not verify_password(production, "outra")
    finally:
        app.config["TESTING"] = True


def test_tests_hash_cheaply_and_both_kinds_verify(app):
    cheap = hash_password("senha-forte-1")
    assert cheap.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert verify_password(cheap, "senha-forte-1") and not verify_password(None, "senha-forte-1")
    app.config["TESTING"] = False
    try:
        assert verify_password(cheap, "senha-forte-1")  # the cost is read from the hash itself
        assert needs_rehash(cheap)  # and a login in production would upgrade it
    finally:
        app.config["TESTING"] = True
