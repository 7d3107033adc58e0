"""Project middleware. Filled in by the Foundation work (timeouts, language, required actions)."""


class _PassThrough:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)


class SessionTimeoutMiddleware(_PassThrough):
    pass


class UserLanguageMiddleware(_PassThrough):
    pass


class RequiredActionsMiddleware(_PassThrough):
    pass
