"""The core every part of the warehouse uses: the settings (the only module that reads the
environment and shapes URLs), the warehouse server and its connections
(:mod:`crownsync.warehouse`), and the dbt launcher (:mod:`crownsync.dbt`).

It knows nothing about loading, orchestration, serving or demo data: those import it.
"""
