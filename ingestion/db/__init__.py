"""The warehouse's PostgreSQL server: the embedded one by default, any other by DATABASE_URL."""
