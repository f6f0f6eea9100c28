"""Use cases shared by every trigger: explain a lead, the after-scan step, lead facts from referrals,
the Dynamics 365 push, the Partner Center sync, queue operations."""
