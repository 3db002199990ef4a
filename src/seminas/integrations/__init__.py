"""Bridges between seminas and other tools.

- :mod:`seminas.integrations.optuna`: every seminas strategy (SemiNAS first) as an Optuna
  sampler, over an objective's categorical and integer parameters (``pip install
  seminas[optuna]``).
- :mod:`seminas.integrations.optuna_export`: a seminas study written into an Optuna storage
  (once, or as a live mirror while it runs), so that ``optuna-dashboard`` shows it.

Importing this package imports none of the tools; each module imports its own.
"""
