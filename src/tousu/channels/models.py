"""Intake adapters that feed the case services: e-mail in, regulator referrals."""
