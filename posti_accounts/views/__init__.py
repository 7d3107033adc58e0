"""Views of posti_accounts, one module per area. Each module exposes its own `urlpatterns`."""
