"""The project database: schema, migrations, the model registry and the decision log.

The only package that speaks SQL.
"""
