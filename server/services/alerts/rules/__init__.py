"""The alert rules, one module each; RULES is the order a run takes them in."""

from server.services.alerts.rules import (
    clerk_burst,
    clerk_self_dealing,
    diversion,
    enumeration,
    geo_velocity,
    referral_loop,
    sessions_per_code,
    store_spike,
)

RULES = (
    geo_velocity,
    diversion,
    sessions_per_code,
    enumeration,
    clerk_self_dealing,
    clerk_burst,
    store_spike,
    referral_loop,
)
