"""Bridges between seminas and other tools.

- :mod:`seminas.integrations.optuna`: every seminas strategy (SemiNAS first) as an Optuna
  sampler, over an objective's categorical and integer parameters (``pip install
  seminas[optuna]``).

Importing this package imports none of the tools; each module imports its own.
"""
