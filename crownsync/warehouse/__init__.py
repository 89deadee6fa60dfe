"""The warehouse PostgreSQL: the embedded server, bounded connections, and the bootstrap of
roles and schemas. ``python -m crownsync.warehouse start|stop|status|clean``.
"""
