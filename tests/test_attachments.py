import pytest

from app.extensions import db
from app.models import Role
from app.services.attachments import FileTooLarge, safe_filename, save_attachment
from app.services.errors import ValidationError
from app.services.tickets import create_ticket
from tests.conftest import login, make_user

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def ticket(tenant, collaborator):
    return create_ticket(tenant_id=tenant.id, requester=collaborator, subject="Tela azul")


def test_a_valid_file_is_stored_with_its_hash(ticket, collaborator):
    attachment = save_attachment(ticket, collaborator, "captura.png", PNG)
    db.session.commit()
    assert attachment.content_type == "image/png" and attachment.size_bytes == len(PNG)
    assert len(attachment.sha256) == 64 and attachment.filename == "captura.png"


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("virus.exe", b"MZ" + b"\x00" * 10, "Tipo de arquivo não permitido"),
        ("falso.png", b"<html>not a png</html>", "não corresponde"),
        ("vazio.txt", b"", "vazio"),
        ("binario.txt", b"abc\x00def", "não corresponde"),
    ],
)
def test_bad_files_are_refused(ticket, collaborator, name, data, message):
    with pytest.raises(ValidationError, match=message):
        save_attachment(ticket, collaborator, name, data)


def test_oversized_files_are_refused_with_413(app, ticket, collaborator):
    big = b"%PDF-" + b"0" * app.config["ATTACHMENT_MAX_BYTES"]
    with pytest.raises(FileTooLarge) as error:
        save_attachment(ticket, collaborator, "grande.pdf", big)
    assert error.value.status == 413 and "10 MB" in error.value.message


def test_file_names_lose_their_paths():
    assert safe_filename("../../etc/passwd") == "passwd"
    assert safe_filename("C:\\Users\\x\\nota.txt") == "nota.txt"
    assert safe_filename("") == "arquivo"


def test_download_needs_the_right_to_see_the_ticket(app, tenant, other_tenant, company, ticket, collaborator):
    attachment = save_attachment(ticket, collaborator, "captura.png", PNG)
    db.session.commit()
    url = f"/anexos/{attachment.id}"

    anonymous = app.test_client()
    assert anonymous.get(url).status_code == 302

    staff = app.test_client()
    login(staff, make_user(tenant, Role.AGENT))
    response = staff.get(url)
    assert response.status_code == 200 and response.data == PNG
    assert response.headers["X-Content-Type-Options"] == "nosniff"

    for outsider in (
        make_user(tenant, Role.COLLABORATOR, company=company),
        make_user(other_tenant, Role.ADMIN),
    ):
        other = app.test_client()
        login(other, outsider)
        assert other.get(url).status_code == 404
