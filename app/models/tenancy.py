"""The mark of a tenant's rows: a model that inherits TenantOwned is read only inside its
tenant's scope (app/services/tenancy.py adds the criterion to every ORM query)."""

from sqlalchemy import Integer
from sqlalchemy.orm import Mapped, mapped_column


class TenantOwned:
    """Rows that belong to one tenant. Each model declares its own `tenant_id` column (with its
    foreign key and index); this one only gives the criterion something to name."""

    tenant_id: Mapped[int] = mapped_column(Integer)
