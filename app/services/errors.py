"""Errors the domain raises; views turn them into messages or JSON errors.

One family, one constructor: `DomainError(message, *, status=None, code=None, field=None)`.
`message` is Portuguese, shown to the user; `status` the HTTP status a view answers with;
`code` the stable machine-readable reason (the device APIs' `error.code`); `field` the field
at fault. The subclasses below only change the defaults of `status` and `code`."""


class DomainError(Exception):
    """A rule refused the operation."""

    status = 400
    code = "invalid"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        field: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.field = field
        if status is not None:
            self.status = status
        if code:
            self.code = code


class ValidationError(DomainError):
    status = 422
    code = "validation_failed"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class PermissionDenied(DomainError):
    status = 403
    code = "forbidden"


class FieldErrors(ValidationError):
    """A form refused for several fields at once: `errors` holds a message per field (the
    first one is the message)."""

    def __init__(self, errors: dict[str, str]):
        field, message = next(iter(errors.items()))
        super().__init__(message, field=field)
        self.errors = dict(errors)
