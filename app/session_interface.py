"""Flask's signed-cookie session, minus its cost on requests that carry no session."""

from flask.sessions import SecureCookieSessionInterface


class CookieSessionWhenPresent(SecureCookieSessionInterface):
    """Device API calls (bearer tokens) never carry a session cookie, yet Flask would
    still build a signing serializer to open an empty session and work out every
    cookie setting to save it: about a tenth of a heartbeat's framework time. The
    behaviour is unchanged: the same empty session, the same Vary and Set-Cookie."""

    def open_session(self, app, request):
        if self.get_cookie_name(app) not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app, session, response):
        if not session and not session.modified and not session.accessed:
            return  # nothing to set, delete or vary on
        super().save_session(app, session, response)
