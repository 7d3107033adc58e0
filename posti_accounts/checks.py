"""System checks of the accounts app. (The OIDC signing-key check lives in sso/checks.py.)"""
