"""The infrastructure under the domain services: the engine and the unit of work
(``database``), the migrations runner, job leases and the errors a service raises.

It knows the tables (``desk.models``) and the clock, nothing of the domain's workflows; the
services build on it, and the screens only ever see its error classes.
"""
