"""Integrations with Microsoft services: Dynamics 365 (Dataverse) and Partner Center.

Each sits behind a feature flag (``HUNTER_D365_ENABLED``, ``HUNTER_PARTNER_CENTER_ENABLED``) and
shares the sign-in machinery of :mod:`shared.integrations.identity`. Modules here import msal and
httpx on use, never at ``import function_app`` time.
"""
