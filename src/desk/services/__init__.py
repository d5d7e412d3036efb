"""Domain services: one transaction per public call, permission checks, audit writes,
queries shaped for the screens; they return plain read models, never live ORM rows."""
