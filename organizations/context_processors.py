def organizations(request):
    """Header org switcher data. Filled in by the organizations work."""
    return {}
