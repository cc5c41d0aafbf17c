"""Prime offer-code APIs: verify, redeem, auth-code."""
