"""Admin ▸ Empresas."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.models import Company
from app.security import requires
from app.services import companies as company_service
from app.services import tenancy
from app.services.errors import DomainError

bp = Blueprint("companies", __name__)


@bp.get("/empresas")
@requires("admin.companies")
def index():
    search = request.args.get("q", "").strip()
    companies = company_service.list_companies(search)
    return render_template("companies/index.html", companies=companies, search=search)


@bp.route("/empresas/nova", methods=["GET", "POST"])
@requires("admin.companies")
def new():
    if request.method == "GET":
        return render_template("companies/form.html", company=None, values={}, errors={})
    form = request.form
    try:
        company = company_service.create_company(
            current_user.tenant_id,
            name=form.get("name", ""),
            apelido=form.get("apelido", ""),
            cnpj=form.get("cnpj", ""),
        )
    except DomainError as error:
        return render_template(
            "companies/form.html", company=None, values=form, errors={error.field: error.message}
        ), 422
    flash(
        f"Empresa “{company.apelido}” criada. Código de provisionamento: {company.provisioning_code}",
        "success",
    )
    return redirect(url_for("companies.index"))


@bp.route("/empresas/<int:company_id>", methods=["GET", "POST"])
@requires("admin.companies")
def edit(company_id: int):
    company = tenancy.owned(Company, company_id, "Empresa não encontrada.")
    if request.method == "GET":
        values = {
            "name": company.name,
            "apelido": company.apelido,
            "cnpj": company.cnpj or "",
            "is_active": company.is_active,
        }
        return render_template("companies/form.html", company=company, values=values, errors={})
    form = request.form
    try:
        changed = company_service.update_company(
            company,
            name=form.get("name", ""),
            apelido=form.get("apelido", ""),
            cnpj=form.get("cnpj", ""),
            is_active=form.get("is_active") == "1",
        )
    except DomainError as error:
        values = {**form, "is_active": form.get("is_active") == "1"}
        return render_template(
            "companies/form.html", company=company, values=values, errors={error.field: error.message}
        ), 422
    flash("Empresa atualizada." if changed else "Nada mudou.", "success")
    return redirect(url_for("companies.index"))


@bp.post("/empresas/<int:company_id>/codigo")
@requires("admin.companies")
def rotate_code(company_id: int):
    company = tenancy.owned(Company, company_id, "Empresa não encontrada.")
    code = company_service.rotate_provisioning_code(company)
    flash(f"Novo código de provisionamento de “{company.apelido}”: {code}", "success")
    return redirect(url_for("companies.edit", company_id=company.id))
