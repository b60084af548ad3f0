"""Lending protocol models (Aave v3, …); pure math lives in each subpackage's ``math.py``."""
